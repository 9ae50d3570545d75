"""An ``in`` filter costs about the same whatever the length of its list, on both stores.

A scope of 1,600 memories; ``get_all`` and ``search`` with ``{"tag": {"in": [...]}}`` lists of 10 to
10,000 values (one matches). Before, ``in`` was an OR of one clause per value, evaluated for every
row: rows x values (10,000 values took 5 s for get_all and 10-13 s for search). Now it is one set test
per JSON type. Printed: milliseconds per call and the ratio to the 10-value list, in the same process.

    PYTHONPATH=src python bench/bench_in_filter.py [--postgres URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.storage import SQLiteStore, Store

MEMORIES = 1_600
LENGTHS = (10, 100, 1_000, 10_000)


def fill(memory: Memory) -> None:
    for i in range(MEMORIES):
        memory.add(f"memory {i} about topic {i % 40}", user_id="u", metadata={"tag": f"t{i}"}, infer=False)


def timed(call: Any, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def measure(name: str, store: Store) -> None:
    with Memory(store=store, embedder=HashingEmbedder()) as memory:
        fill(memory)
        print(f"\n## {name}: {MEMORIES} memories in one scope")
        print("| values in the list | get_all ms | search ms |")
        print("|---:|---:|---:|")
        base: tuple[float, float] | None = None
        for length in LENGTHS:
            filters = {"tag": {"in": ["t7", *(f"absent{j}" for j in range(length - 1))]}}
            listed = timed(lambda f=filters: memory.get_all(user_id="u", filters=f, limit=100))
            searched = timed(lambda f=filters: memory.search("topic 7", user_id="u", filters=f))
            base = base or (listed, searched)
            ratio = f" ({listed / base[0]:.1f}x, {searched / base[1]:.1f}x)"
            print(f"| {length:,} | {listed:.1f} | {searched:.1f} |{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL (with pgvector) to measure too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measure("SQLite", SQLiteStore(Path(folder) / "in.db"))
    if args.postgres:
        from engram.storage.postgres import PostgresSettings, PostgresStore

        measure("PostgreSQL", PostgresStore(args.postgres, PostgresSettings(schema="bench_in_filter")))


if __name__ == "__main__":
    main()
