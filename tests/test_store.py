"""The SQLite file: transactions, migrations, the embedder it was filled with."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from engram import Memory, StorageError
from engram.embedders.hashing import HashingEmbedder
from engram.embedders.local_minilm import LocalMiniLM
from engram.models import MemoryRecord, utcnow
from engram.storage.sqlite import MIGRATIONS, SQLiteStore


def config(path: Path) -> dict[str, object]:
    return {"vector_store": {"provider": "sqlite", "config": {"path": str(path)}}}


def test_the_file_is_in_wal_mode_with_a_busy_timeout(db_path: Path, memory: Memory) -> None:
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_reopening_with_an_embedder_of_another_dimension_fails_clearly(db_path: Path, embedder: LocalMiniLM) -> None:
    Memory(config(db_path), embedder=embedder).close()
    with pytest.raises(StorageError, match=r"384 dimensions.*use a new database path"):
        Memory(config(db_path), embedder=HashingEmbedder(dimension=128))


def test_memories_survive_reopening(db_path: Path, embedder: LocalMiniLM) -> None:
    with Memory(config(db_path), embedder=embedder) as memory:
        memory.add("persisted", user_id="u", infer=False)
    with Memory(config(db_path), embedder=embedder) as memory:
        assert [m["memory"] for m in memory.search("persisted", user_id="u")["results"]] == ["persisted"]


def test_a_failure_inside_a_transaction_writes_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "t.db")
    record = MemoryRecord(id="m1", memory="x", hash="h", created_at=utcnow(), user_id="u")
    vector = np.ones(4, dtype=np.float32)
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_memory(record, vector, "x")
        raise RuntimeError("crash between the memory and its history")
    assert store.get_memory("m1") is None
    with store.transaction():
        with pytest.raises(RuntimeError), store.transaction():  # a nested failure rolls back only its part
            store.insert_memory(record, vector, "x")
            raise RuntimeError
        store.insert_memory(MemoryRecord(id="m2", memory="y", hash="h2", created_at=utcnow(), user_id="u"), vector, "y")
    assert store.get_memory("m1") is None
    assert store.get_memory("m2") is not None


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StorageError, match="newer engram"):
        SQLiteStore(path)


def test_another_connection_sees_writes_after_it_searched(db_path: Path, embedder: LocalMiniLM) -> None:
    writer = Memory(config(db_path), embedder=embedder)
    reader = Memory(config(db_path), embedder=embedder)
    writer.add("first note about sailing", user_id="u", infer=False)
    assert [m["memory"] for m in reader.search("sailing", user_id="u")["results"]] == ["first note about sailing"]
    second = writer.add("second note about sailing", user_id="u", infer=False)["results"][0]["id"]
    writer.delete(writer.search("first", user_id="u", limit=1)["results"][0]["id"])
    assert [m["id"] for m in reader.search("sailing", user_id="u")["results"]] == [second]
    writer.close()
    reader.close()


def test_a_rolled_back_write_leaves_no_trace_in_search(db_path: Path, embedder: LocalMiniLM) -> None:
    with Memory(config(db_path), embedder=embedder) as memory:
        memory.add("kept", user_id="u", infer=False)
        memory.search("kept", user_id="u")  # loads the in-process vectors
        record = MemoryRecord(id="ghost", memory="ghost", hash="g", created_at=utcnow(), user_id="u")
        with pytest.raises(RuntimeError), memory.store.transaction():
            memory.store.insert_memory(record, embedder.embed_batch(["ghost"])[0], "ghost")
            raise RuntimeError
        assert [m["memory"] for m in memory.search("ghost", user_id="u")["results"]] == ["kept"]
        updated = memory.add("another", user_id="u", infer=False)["results"][0]["id"]
        memory.update(updated, data="ghost story")
        assert memory.search("ghost story", user_id="u", limit=1)["results"][0]["id"] == updated
