"""Upgrading a store written by the first schema (before versions and episodes), with data in it.

The old schema is built by the shipped first migration alone (``MIGRATIONS[:1]``) and filled with
that schema's own SQL; then the store is opened with today's code, which migrates it in place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from conftest_pg import StoreFactory
from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.models import Scope
from engram.storage import postgres as postgres_store
from engram.storage import sqlite as sqlite_store

CREATED = datetime(2024, 1, 10, 9, tzinfo=UTC)
LATER = datetime(2024, 5, 1, tzinfo=UTC)
OWNER = "user_id=u|agent_id=|run_id="


def _fill_sqlite(store: Any, vector: np.ndarray) -> None:
    db = store._db
    with store.transaction():
        cursor = db.execute(
            "INSERT INTO memories (id, memory, hash, metadata, user_id, created_at, updated_at, embedding) "
            "VALUES ('m1', 'Lives in Lisbon', 'h1', '{\"k\": 1}', 'u', ?, ?, ?)",
            (CREATED.isoformat(), CREATED.isoformat(), vector.astype(np.float32).tobytes()),
        )
        db.execute(
            "INSERT INTO memory_fts (rowid, text, owners) VALUES (?, 'Lives in Lisbon', ?)",
            (cursor.lastrowid, sqlite_store.owner_tokens(Scope(user_id="u"))),
        )
        db.execute(
            "INSERT INTO history (id, memory_id, old_memory, new_memory, event, created_at) "
            "VALUES ('h1', 'm1', NULL, 'Lives in Lisbon', 'ADD', ?)",
            (CREATED.isoformat(),),
        )
        db.execute(
            "INSERT INTO messages (owner, role, content, name, created_at) VALUES (?, 'user', 'I live in Lisbon', "
            "'Maya', ?)",
            (OWNER, CREATED.isoformat()),
        )


def _fill_postgres(url: str, schema: str, vector: np.ndarray) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        conn.execute(
            "INSERT INTO memories (id, memory, hash, metadata, user_id, created_at, updated_at, embedding, "
            "search_text) VALUES ('m1', 'Lives in Lisbon', 'h1', '{\"k\": 1}', 'u', %s, %s, %s::vector, "
            "'Lives in Lisbon')",
            (CREATED, CREATED, "[" + ",".join(str(float(x)) for x in vector) + "]"),
        )
        conn.execute(
            "INSERT INTO history (id, memory_id, old_memory, new_memory, event, created_at) "
            "VALUES ('h1', 'm1', NULL, 'Lives in Lisbon', 'ADD', %s)",
            (CREATED,),
        )
        conn.execute(
            "INSERT INTO messages (owner, role, content, name, created_at) "
            "VALUES (%s, 'user', 'I live in Lisbon', 'Maya', %s)",
            (OWNER, CREATED),
        )


def test_an_old_store_is_upgraded_in_place(
    backend: str, store_factory: StoreFactory, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = HashingEmbedder()
    vector = embedder.embed_batch(["Lives in Lisbon"])[0]
    module = postgres_store if backend == "postgres" else sqlite_store
    with monkeypatch.context() as old_code:
        old_code.setattr(module, "MIGRATIONS", module.MIGRATIONS[:1])
        old = store_factory()
        old.bind_embedder(embedder.model_name, embedder.dimension)
        if backend == "postgres":
            _fill_postgres(request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema"), vector)
        else:
            _fill_sqlite(old, vector)
        old.close()

    m = Memory(store=store_factory(), embedder=embedder)

    item = m.get("m1")
    assert item is not None
    assert (item["memory"], item["metadata"], item["valid_from"], item["invalid_at"]) == (
        "Lives in Lisbon",
        {"k": 1},
        CREATED.isoformat(timespec="microseconds"),
        None,
    )
    [row] = m.history("m1")
    assert (row["event"], row["user_id"], row["agent_id"], row["run_id"]) == ("ADD", "u", None, None)
    # The old message window became the scope's episodes, and still feeds the LLM's context.
    [message] = m.store.recent_messages(Scope(user_id="u"), 10)
    assert (message.content, message.name, message.created_at) == ("I live in Lisbon", "Maya", CREATED)
    assert [e.content for e in m.store.list_episodes(Scope(user_id="u"))] == ["I live in Lisbon"]
    # ... and the episode index holds them: search reaches what was said.
    said = m.search("Lisbon", user_id="u", limit=1, episodes=1, threshold=2.0)["episodes"]
    assert [(e["content"], e["name"]) for e in said] == [("I live in Lisbon", "Maya")]

    # The new behaviour works on the old data: a dated correction makes a version.
    m.update("m1", "Lives in Porto", timestamp=LATER)
    assert [r["memory"] for r in m.get_all(user_id="u")["results"]] == ["Lives in Porto"]
    assert [r["memory"] for r in m.get_all(user_id="u", as_of=CREATED)["results"]] == ["Lives in Lisbon"]
    assert [r["memory"] for r in m.search("Lisbon", user_id="u", as_of=CREATED)["results"]] == ["Lives in Lisbon"]
    assert m.search("Porto", user_id="u")["results"][0]["id"] == "m1"
    m.close()
