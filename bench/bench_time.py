"""Benchmark of time-aware reads on SQLite: current search next to as-of search.

Fills a store with memories spread over 1,000 users (random unit vectors, like bench_core.py), then
supersedes a share of them (each keeps its old text as a version) and retracts another share, and
prints scoped search p50/p95 (excluding the query embedding) for:
- current facts (the default path: the vector cache and FTS over current rows);
- as of a moment before the changes (SQL over the scope's rows and versions valid then).

    .venv/bin/python bench/bench_time.py [--size 100000] [--changed 0.2] [--queries 300]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from engram.models import MemoryRecord, Scope, memory_hash
from engram.search import hybrid_search, keyword_text
from engram.storage.base import Query
from engram.storage.sqlite import SQLiteStore

USERS = 1_000
DIMENSION = 384
SUBJECTS = ["hiking", "jazz", "sushi", "chess", "yoga", "Lisbon", "tennis", "pottery", "Python", "gardening"]
START = datetime(2023, 1, 1, tzinfo=UTC)
CHANGED_AT = datetime(2024, 6, 1, tzinfo=UTC)


def unit_rows(rows: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fill(store: SQLiteStore, size: int, changed: float, rng: random.Random) -> tuple[int, int]:
    vectors = unit_rows(size, 0)
    records = []
    with store.transaction():
        for i in range(size):
            text = f"User {i % USERS} likes {rng.choice(SUBJECTS)} (note {i})"
            record = MemoryRecord(
                id=str(uuid.uuid4()),
                memory=text,
                hash=memory_hash(text),
                created_at=START + timedelta(minutes=i),
                user_id=f"user-{i % USERS}",
            )
            store.insert_memory(record, vectors[i], keyword_text(record))
            records.append(record)
    superseded = retracted = 0
    new_vectors = unit_rows(size, 1)
    with store.transaction():
        for i, record in enumerate(records):
            draw = rng.random()
            if draw < changed:  # a new text from CHANGED_AT; the old one becomes a version
                text = f"User {i % USERS} now prefers {rng.choice(SUBJECTS)} (note {i})"
                new = replace(record, memory=text, hash=memory_hash(text), valid_from=CHANGED_AT, updated_at=CHANGED_AT)
                store.archive_memory(record.id, CHANGED_AT)
                store.update_memory(new, new_vectors[i], keyword_text(new))
                superseded += 1
            elif draw < changed * 1.5:
                store.retract_memory(record.id, CHANGED_AT)
                retracted += 1
    return superseded, retracted


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument(
        "--changed", type=float, default=0.2, help="share of memories superseded (half as many retracted)"
    )
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "bench.db")
        superseded, retracted = fill(store, args.size, args.changed, rng)
        queries = unit_rows(args.queries, 2)
        texts = [f"what does she think about {rng.choice(SUBJECTS)}" for _ in range(args.queries)]
        users = [f"user-{rng.randrange(USERS)}" for _ in range(args.queries)]
        now = datetime.now(UTC)
        before = CHANGED_AT - timedelta(days=1)
        rows = []
        for name, as_of in (("current", None), ("as of before the changes", before)):
            samples = []
            for i in range(args.queries):
                query = Query(Scope(user_id=users[i]), None, as_of or now, as_of=as_of)
                start = time.perf_counter()
                hybrid_search(store, query, texts[i], queries[i], limit=10)
                samples.append((time.perf_counter() - start) * 1000)
            rows.append((name, percentile(samples, 50), percentile(samples, 95)))
        store.close()
    print(
        f"\n{args.size:,} memories over {USERS:,} users; {superseded:,} superseded (each with a version), "
        f"{retracted:,} retracted"
    )
    print(f"  {'scoped search':<28}{'p50 ms':>9}{'p95 ms':>9}")
    for name, p50, p95 in rows:
        print(f"  {name:<28}{p50:>9.3f}{p95:>9.3f}")


if __name__ == "__main__":
    main()
