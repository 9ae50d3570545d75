"""AsyncMemory: the same verbs as Memory, as coroutines, with no second implementation."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

from engram import AsyncMemory, Memory, ValidationError
from engram.embedders.local_minilm import LocalMiniLM

VERBS = [
    "add",
    "search",
    "get",
    "get_all",
    "update",
    "delete",
    "delete_all",
    "erase",
    "erasures",
    "history",
    "reset",
    "episodes",
]


def public_methods(cls: type) -> set[str]:
    return {name for name, value in vars(cls).items() if not name.startswith("_") and callable(value)}


def test_every_verb_of_memory_is_a_coroutine_of_async_memory() -> None:
    # A verb added to Memory and forgotten here would be missing from the async face.
    verbs = public_methods(Memory) - {"from_config"}
    assert verbs <= public_methods(AsyncMemory)
    assert all(inspect.iscoroutinefunction(getattr(AsyncMemory, verb)) for verb in verbs)


def test_async_memory_round_trip(tmp_path: Path, embedder: LocalMiniLM) -> None:
    async def scenario() -> None:
        config = {"vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "a.db")}}}
        async with AsyncMemory(config, embedder=embedder) as memory:
            added = await asyncio.gather(*(memory.add(f"async fact {i}", user_id="u", infer=False) for i in range(10)))
            assert all(a["results"][0]["event"] == "ADD" for a in added)
            found = await memory.search("async fact 3", user_id="u", limit=1)
            assert found["results"][0]["memory"] == "async fact 3"
            memory_id = found["results"][0]["id"]
            await memory.update(memory_id, data="changed")
            assert (await memory.get(memory_id))["memory"] == "changed"
            assert [h["event"] for h in await memory.history(memory_id)] == ["ADD", "UPDATE"]
            with pytest.raises(ValidationError):
                await memory.get_all()

    asyncio.run(scenario())


def test_concurrent_adds_of_the_same_text_store_it_once(tmp_path: Path, embedder: LocalMiniLM) -> None:
    async def scenario() -> list[str]:
        config = {"vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "c.db")}}}
        async with AsyncMemory(config, embedder=embedder) as memory:
            results = await asyncio.gather(
                *(memory.add("Allergic to shellfish", user_id="u", infer=False) for _ in range(8))
            )
            stored = (await memory.get_all(user_id="u"))["results"]
            assert len(stored) == 1
            return [r["results"][0]["event"] for r in results]

    events = asyncio.run(scenario())
    assert sorted(events) == ["ADD"] + ["NONE"] * 7
