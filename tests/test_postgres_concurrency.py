"""Many engram processes writing to one PostgreSQL database at once lose nothing and raise nothing."""

from __future__ import annotations

import multiprocessing
from collections import Counter

import psycopg
from psycopg import sql

from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.memory import KEEP_MESSAGES
from engram.storage.postgres import PostgresSettings, PostgresStore

PROCESSES = 4
ADDS_PER_PROCESS = 500
USERS = 5  # every process writes for every user


def add_many(url: str, schema: str, worker: int) -> list[str]:
    """One process's work: ADDS_PER_PROCESS adds, round-robin over the shared users."""
    store = PostgresStore(url, PostgresSettings(schema=schema, max_connections=2))
    with Memory(store=store, embedder=HashingEmbedder()) as memory:
        ids = []
        for i in range(ADDS_PER_PROCESS):
            result = memory.add(
                f"worker {worker} remembers fact {i}", user_id=f"user{i % USERS}", infer=False
            )
            ids += [r["id"] for r in result["results"] if r["event"] == "ADD"]
        return ids


def test_processes_writing_at_once_lose_nothing(postgres_url: str, postgres_schema: str) -> None:
    PostgresStore(postgres_url, PostgresSettings(schema=postgres_schema)).close()  # migrate once up front
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        per_worker = pool.starmap(add_many, [(postgres_url, postgres_schema, w) for w in range(PROCESSES)])

    assert [len(ids) for ids in per_worker] == [ADDS_PER_PROCESS] * PROCESSES
    with psycopg.connect(postgres_url) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(postgres_schema)))
        stored: dict[str, str] = dict(conn.execute("SELECT id, user_id FROM memories").fetchall())
        history = conn.execute("SELECT count(*) FROM history WHERE event = 'ADD'").fetchone()
        windows = conn.execute("SELECT owner, count(*) FROM messages GROUP BY owner").fetchall()
    assert set(stored) == {memory_id for ids in per_worker for memory_id in ids}
    assert Counter(stored.values()) == {
        f"user{u}": PROCESSES * ADDS_PER_PROCESS // USERS for u in range(USERS)
    }
    assert history == (PROCESSES * ADDS_PER_PROCESS,)
    assert len(windows) == USERS and all(count == KEEP_MESSAGES for _, count in windows)
