"""What every integration shares: the import guard naming the extra, and a handle that runs engram's sync
faces off the event loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engram import AsyncMemoryClient, ConfigError, Memory
from engram.embedders.base import Purpose, Vectors
from engram.embedders.hashing import HashingEmbedder
from engram.integrations._engram import EngramHandle

FRAMEWORKS = [
    ("langgraph", "langgraph", "langgraph"),
    ("langchain", "langchain_core", "langchain"),
    ("pydantic_ai", "pydantic_ai", "pydantic-ai"),
    ("openai_agents", "agents", "openai-agents"),
    ("adk", "google.adk", "adk"),
]


@pytest.mark.parametrize(("module", "framework", "extra"), FRAMEWORKS, ids=[f[0] for f in FRAMEWORKS])
def test_importing_an_integration_without_its_framework_names_the_extra(
    module: str, framework: str, extra: str
) -> None:
    hide = f"import sys; sys.modules[{framework!r}] = None"  # as if the framework were not installed
    probe = (
        f"{hide}\ntry:\n    import engram.integrations.{module}\nexcept Exception as e:\n    print(type(e).__name__, e)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)

    assert result.stdout.startswith("ConfigError")
    assert f"pip install 'engramdb[{extra}]'" in result.stdout


class GatedEmbedder(HashingEmbedder):
    """Embeds only once ``gate`` is set: a verb run on the event loop's thread would wait forever."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def embed_batch(self, texts: list[str], *, purpose: Purpose = "document") -> Vectors:
        if not self.gate.wait(timeout=10):
            raise RuntimeError("the gate never opened: the verb ran on the event loop's thread and blocked it")
        return super().embed_batch(texts, purpose=purpose)


def test_a_sync_memory_runs_off_the_event_loop(tmp_path: Path) -> None:
    embedder = GatedEmbedder()
    memory = Memory(
        {"vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}}}, embedder=embedder
    )
    handle = EngramHandle(memory)

    async def run() -> dict[str, object]:
        adding = asyncio.ensure_future(handle.acall("add", "I like figs", user_id="u", infer=False))
        await asyncio.sleep(0)  # the loop is free while the add waits in its thread
        embedder.gate.set()
        return await adding  # type: ignore[no-any-return]

    result = asyncio.run(run())
    assert [item["event"] for item in result["results"]] == ["ADD"]  # type: ignore[index]
    memory.close()


def test_a_sync_call_on_an_async_client_says_what_to_use() -> None:
    handle = EngramHandle(AsyncMemoryClient("ek_test"))

    with pytest.raises(ConfigError, match="give the integration a MemoryClient"):
        handle.call("search", "q", user_id="u")


def test_anything_else_than_an_engram_face_is_refused() -> None:
    with pytest.raises(ConfigError, match="expected a Memory, AsyncMemory, MemoryClient or AsyncMemoryClient"):
        EngramHandle("not a memory")  # type: ignore[arg-type]
