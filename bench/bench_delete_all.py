"""How long `delete_all` of a big scope holds SQLite's write lock: batched (now) against one transaction.

    PYTHONPATH=src python bench/bench_delete_all.py --memories 50000

Fills a fresh SQLite file with N memories of one user (plus a few of another), then deletes the
user's scope twice over (refilled in between): once through ``Memory.delete_all`` (batches of
``DELETE_BATCH``, each its own transaction) and once in a single transaction, as before. Prints the
total time and the longest time any one transaction held the write lock.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.memory import DELETE_BATCH
from engram.models import MemoryRecord, Scope, memory_hash, utcnow
from engram.storage import SQLiteStore


def fill(store: SQLiteStore, count: int, user_id: str, dimension: int) -> None:
    rng = np.random.default_rng(0)
    now = utcnow()
    with store.transaction():
        for i in range(count):
            text = f"memory {i} of {user_id} {uuid.uuid4().hex[:8]}"
            record = MemoryRecord(
                id=str(uuid.uuid4()), memory=text, hash=memory_hash(text), created_at=now, updated_at=now,
                metadata={}, user_id=user_id,
            )  # fmt: skip
            vector = rng.standard_normal(dimension).astype(np.float32)
            store.insert_memory(record, vector / np.linalg.norm(vector), text)


@contextmanager
def timed_transactions(store: SQLiteStore, holds: list[float]) -> Iterator[None]:
    """Record how long each outermost transaction of ``store`` lasts."""
    real = store.transaction
    depth = 0

    @contextmanager
    def timing() -> Iterator[None]:
        nonlocal depth
        depth += 1
        started = time.perf_counter()
        try:
            with real():
                yield
        finally:
            depth -= 1
            if depth == 0:
                holds.append(time.perf_counter() - started)

    store.transaction = timing  # type: ignore[method-assign]
    try:
        yield
    finally:
        store.transaction = real  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=50_000)
    args = parser.parse_args()
    embedder = HashingEmbedder()
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "engram.db")
        memory = Memory(store=store, embedder=embedder)
        fill(store, 10, "someone-else", embedder.dimension)
        for method in ("batched delete_all", "one transaction"):
            fill(store, args.memories, "alice", embedder.dimension)
            holds: list[float] = []
            started = time.perf_counter()
            with timed_transactions(store, holds):
                if method == "batched delete_all":
                    memory.delete_all(user_id="alice")
                else:
                    with store.transaction():
                        store.delete_memories(Scope(user_id="alice"))
            total = time.perf_counter() - started
            print(
                f"{method:>20}: {args.memories:,} memories in {total:.2f} s, {len(holds)} transaction(s), "
                f"longest lock hold {max(holds) * 1000:.0f} ms (batch {DELETE_BATCH})"
            )
        assert memory.get_all(user_id="someone-else")["results"]
        memory.close()


if __name__ == "__main__":
    main()
