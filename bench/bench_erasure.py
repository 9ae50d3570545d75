"""What erasure costs on SQLite: deleting one memory, a scope's delete_all, and erase_scope.

    PYTHONPATH=src .venv/bin/python bench/bench_erasure.py [--memories 50000] [--scope 10000]

Fills a fresh SQLite file with ``--memories`` memories over many users (each with an episode, and a
history row) plus one big user of ``--scope`` memories, then times: ``delete`` of single memories
(the store calls ``Memory.delete`` makes, in one transaction), ``delete_all`` of half the big user
(batched as ``Memory.delete_all`` does) and ``erase_scope`` of the other half. Run it with
``PYTHONPATH=../main/src`` for the release before erasure (it has no ``erase_scope``) to compare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from engram.models import Episode, Event, HistoryRecord, MemoryRecord, Scope, memory_hash, utcnow
from engram.storage import SQLiteStore

DIMENSION = 384
BATCH = 1_000
WORDS = [f"word{i}" for i in range(5_000)]


def fill(store: SQLiteStore, users: list[str], per_user: int, rng: np.random.Generator) -> list[str]:
    """``per_user`` memories for each user, each with its episode and ADD row; returns the memory ids."""
    now, ids = utcnow(), []
    with store.transaction():
        for user in users:
            for _ in range(per_user):
                text = " ".join(rng.choice(WORDS, 12)) + f" {uuid.uuid4().hex[:8]}"
                record = MemoryRecord(str(uuid.uuid4()), text, memory_hash(text), now, now, {}, user_id=user)
                vector = rng.standard_normal(DIMENSION).astype(np.float32)
                store.insert_memory(record, vector / np.linalg.norm(vector), text)
                episode = Episode(str(uuid.uuid4()), "user", text, now, 0, None, user)
                store.add_episodes([episode])
                store.link_episodes([(record.id, episode.id)])
                store.add_history(
                    [HistoryRecord(str(uuid.uuid4()), record.id, None, text, Event.ADD, now, user_id=user)]
                )
                ids.append(record.id)
    return ids


def delete_one(store: SQLiteStore, memory_id: str) -> float:
    started = time.perf_counter()
    with store.transaction():
        old = store.get_memory(memory_id)
        assert old is not None
        store.delete_memory(memory_id)
        store.graph.forget_memory(memory_id)
        row = HistoryRecord(str(uuid.uuid4()), memory_id, old.memory, None, Event.DELETE, utcnow(), is_deleted=True)
        store.add_history([row])
    return time.perf_counter() - started


def delete_all(store: SQLiteStore, scope: Scope) -> tuple[float, int]:
    started, batches = time.perf_counter(), 0
    while True:
        with store.transaction():
            batch = store.delete_memories(scope, BATCH)
            if len(batch) < BATCH:
                store.graph.delete_graph(scope)
        batches += 1
        if len(batch) < BATCH:
            return time.perf_counter() - started, batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=50_000)
    parser.add_argument("--scope", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "engram.db"
        store = SQLiteStore(path)
        store.bind_embedder("bench", DIMENSION)
        started = time.perf_counter()
        ids = fill(store, [f"user{i}" for i in range(args.memories // 50)], 50, rng)
        fill(store, ["big-a"], args.scope // 2, rng)
        fill(store, ["big-b"], args.scope // 2, rng)
        print(f"filled {len(ids) + args.scope} memories in {time.perf_counter() - started:.0f} s, "
              f"{path.stat().st_size / 1e6:.0f} MB")  # fmt: skip
        times = [delete_one(store, memory_id) for memory_id in rng.choice(ids, 20, replace=False)]
        print(f"delete of one memory: p50 {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
        took, batches = delete_all(store, Scope("big-a"))
        print(f"delete_all of {args.scope // 2} memories: {took:.2f} s in {batches} transactions")
        if hasattr(store, "erase_scope"):
            started = time.perf_counter()
            receipt = store.erase_scope(Scope("big-b"))
            print(f"erase_scope of {receipt.erased['memories']} memories: {time.perf_counter() - started:.2f} s")
        store.close()


if __name__ == "__main__":
    main()
