"""`engram import --from-mem0`: a real mem0 installation (mem0ai, not a dependency of engram) moved
into engram through mem0's own API. Slow lane: `pip install mem0ai`, then `pytest -m slow`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.mem0_import import import_from_mem0, import_mem0_memories
from engram.storage import SQLiteStore

pytestmark = pytest.mark.slow
os.environ.setdefault("MEM0_TELEMETRY", "False")  # read when mem0 is imported: no telemetry client, no network


class HashingForMem0:
    """engram's hashing embedder behind mem0's embedding interface: no model, no network."""

    def __init__(self) -> None:
        self.embedder = HashingEmbedder(64)
        self.config = None

    def embed(self, text: str, memory_action: str | None = None) -> list[float]:
        return [float(x) for x in self.embedder.embed_batch([text])[0]]

    def embed_batch(self, texts: list[str], memory_action: str = "add") -> list[list[float]]:
        return [[float(x) for x in row] for row in self.embedder.embed_batch(texts)]


def mem0_config(folder: Path) -> dict[str, Any]:
    return {
        "vector_store": {
            "provider": "qdrant",
            "config": {"path": str(folder / "qdrant"), "embedding_model_dims": 64, "on_disk": True},
        },
        "history_db_path": str(folder / "mem0-history.db"),
    }


@pytest.fixture
def mem0_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    mem0 = pytest.importorskip("mem0")
    monkeypatch.setenv("OPENAI_API_KEY", os.environ.get("OPENAI_API_KEY", "unused: infer=False calls no LLM"))
    source = mem0.Memory.from_config(mem0_config(tmp_path))
    source.embedding_model = HashingForMem0()
    return source


def test_every_mem0_memory_moves_with_its_scope_metadata_and_history(mem0_memory: Any, tmp_path: Path) -> None:
    tea = mem0_memory.add("Likes green tea", user_id="alice", infer=False, metadata={"topic": "food"})
    mem0_memory.add("Plays chess", user_id="bob", agent_id="coach", infer=False)
    tea_id = tea["results"][0]["id"]
    mem0_memory.update(tea_id, "Likes jasmine tea")
    target = Memory(store=SQLiteStore(tmp_path / "engram.db"), embedder=HashingEmbedder())

    report = import_mem0_memories(target.store, target.embedder, mem0_memory)

    assert report == {"memories": 2, "imported": 2, "recomputed_vectors": True}
    [alice] = target.get_all(user_id="alice")["results"]
    assert (alice["id"], alice["memory"], alice["metadata"]) == (tea_id, "Likes jasmine tea", {"topic": "food"})
    assert [row["event"] for row in target.history(tea_id)] == ["ADD", "UPDATE"]
    [bob] = target.get_all(user_id="bob", agent_id="coach")["results"]
    assert bob["memory"] == "Plays chess"
    assert target.search("what does alice drink?", user_id="alice")["results"][0]["id"] == tea_id
    assert import_mem0_memories(target.store, target.embedder, mem0_memory)["imported"] == 0  # again: nothing new


def test_the_cli_reads_a_mem0_config_file(mem0_memory: Any, tmp_path: Path) -> None:
    mem0_memory.add("Lives in Porto", user_id="carol", infer=False)
    mem0_memory.vector_store.client.close()  # qdrant's local mode allows one client per folder
    config = tmp_path / "mem0.json"
    config.write_text(json.dumps(mem0_config(tmp_path)))
    target = Memory(store=SQLiteStore(tmp_path / "engram.db"), embedder=HashingEmbedder())
    assert import_from_mem0(target.store, target.embedder, config)["imported"] == 1
    assert [item["memory"] for item in target.get_all(user_id="carol")["results"]] == ["Lives in Porto"]
