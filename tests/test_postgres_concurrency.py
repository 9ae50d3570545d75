"""Many engram processes writing to one PostgreSQL database at once lose nothing and raise nothing."""

from __future__ import annotations

import multiprocessing
from collections import Counter

import psycopg
from psycopg import sql

from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.storage.postgres import PostgresSettings, PostgresStore

PROCESSES = 4
ADDS_PER_PROCESS = 500
USERS = 5  # every process writes for every user
SHARED_EVERY = 10  # every 10th add is a text that every process adds, for the same user


def text_of(worker: int, i: int) -> str:
    return f"shared fact {i}" if i % SHARED_EVERY == 0 else f"worker {worker} remembers fact {i}"


def add_many(url: str, schema: str, worker: int) -> list[tuple[str, str]]:
    """One process's work: ADDS_PER_PROCESS adds, round-robin over the shared users; (event, text) each."""
    store = PostgresStore(url, PostgresSettings(schema=schema, max_connections=2))
    with Memory(store=store, embedder=HashingEmbedder()) as memory:
        events = []
        for i in range(ADDS_PER_PROCESS):
            [result] = memory.add(text_of(worker, i), user_id=f"user{i % USERS}", infer=False)["results"]
            events.append((result["event"], result["memory"]))
        return events


def test_processes_writing_at_once_lose_nothing_and_store_shared_texts_once(
    postgres_url: str, postgres_schema: str
) -> None:
    PostgresStore(postgres_url, PostgresSettings(schema=postgres_schema)).close()  # migrate once up front
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        per_worker = pool.starmap(add_many, [(postgres_url, postgres_schema, w) for w in range(PROCESSES)])

    with psycopg.connect(postgres_url) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(postgres_schema)))
        stored: list[tuple[str, str]] = conn.execute("SELECT memory, user_id FROM memories").fetchall()
        history = conn.execute("SELECT count(*) FROM history WHERE event = 'ADD'").fetchone()
        episodes = conn.execute("SELECT owner, count(*) FROM episodes GROUP BY owner").fetchall()

    expected = {(text_of(w, i), f"user{i % USERS}") for w in range(PROCESSES) for i in range(ADDS_PER_PROCESS)}
    assert Counter(stored) == Counter(expected)  # every text once: none lost, no shared one twice
    events = Counter(event for worker in per_worker for event, _ in worker)
    shared = ADDS_PER_PROCESS // SHARED_EVERY
    assert events == {"ADD": len(expected), "NONE": (PROCESSES - 1) * shared}
    assert history == (len(expected),)
    # Every message is kept as an episode, duplicates included: none lost to a concurrent writer.
    per_user = PROCESSES * ADDS_PER_PROCESS // USERS
    assert len(episodes) == USERS and all(count == per_user for _, count in episodes)


def test_an_update_racing_a_delete_is_not_found_never_a_storage_error(postgres_url: str, postgres_schema: str) -> None:
    # Read committed: the update read the row, the delete committed, and the update's archive found
    # nothing ("vanished during the update", a 503). The row is now held from the read to the write.
    import threading

    from engram.errors import NotFoundError

    stores = [PostgresStore(postgres_url, PostgresSettings(schema=postgres_schema)) for _ in range(2)]
    updater, deleter = (Memory(store=store, embedder=HashingEmbedder()) for store in stores)
    outcomes: Counter[str] = Counter()
    for i in range(60):
        memory_id = updater.add(f"fact {i} to race over", user_id="racer", infer=False)["results"][0]["id"]
        start = threading.Barrier(2)

        def run(verb: str, memory_id: str = memory_id, i: int = i, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                if verb == "update":
                    updater.update(memory_id, f"fact {i} changed", timestamp="2030-01-01T00:00:00Z")
                else:
                    deleter.delete(memory_id)
                outcomes[f"{verb} ok"] += 1
            except NotFoundError:
                outcomes[f"{verb} not found"] += 1

        threads = [threading.Thread(target=run, args=(verb,)) for verb in ("update", "delete")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    updater.close()
    deleter.close()
    assert outcomes["delete ok"] == 60  # every delete lands; an update before or after it, or not found
    assert outcomes["update ok"] + outcomes["update not found"] == 60
