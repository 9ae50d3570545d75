r"""Interleaved A/B of scoped and unscoped hybrid search: an earlier engram against this tree, in one process.

Both stores hold the same memories (bench_core.py's data); each query runs on both, in random order, so
the load of a shared machine hits both alike (back-to-back runs of bench_core.py moved by 20% from load
alone). The earlier engram is imported as ``engram_before``:

    mkdir -p /tmp/ab && git archive BASE src/engram | tar -x -C /tmp/ab --strip-components=1
    mv /tmp/ab/engram /tmp/ab/engram_before
    grep -rl engram --include=*.py /tmp/ab/engram_before | xargs sed -i -E \
        's/\bfrom engram(\.| import)/from engram_before\1/g; s/\bimport engram\b/import engram_before/g'
    PYTHONPATH=/tmp/ab:src .venv/bin/python bench/bench_ab_search.py [SIZE=100000] [QUERIES=500]
"""

from __future__ import annotations

import importlib
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

SIZE = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
QUERIES = int(sys.argv[2]) if len(sys.argv) > 2 else 500
USERS, DIMENSION = 1_000, 384
SUBJECTS = ["hiking", "jazz", "sushi", "chess", "yoga", "Lisbon", "tennis", "pottery", "Python", "gardening"]
VERBS = ["loves", "started", "stopped", "booked", "talked about", "is learning", "bought gear for", "dreams of"]


class Side:
    """One engram package (``engram`` or ``engram_before``) with a store filled with the shared data."""

    def __init__(self, package: str, path: Path) -> None:
        self.models: ModuleType = importlib.import_module(f"{package}.models")
        self.search: ModuleType = importlib.import_module(f"{package}.search")
        self.base: ModuleType = importlib.import_module(f"{package}.storage.base")
        self.store: Any = importlib.import_module(f"{package}.storage.sqlite").SQLiteStore(path)

    def fill(self, rows: list[tuple[str, datetime]], vectors: np.ndarray) -> None:
        for chunk in range(0, len(rows), 5_000):
            with self.store.transaction():
                for i in range(chunk, min(len(rows), chunk + 5_000)):
                    text, created = rows[i]
                    record = self.models.MemoryRecord(
                        id=str(uuid.uuid4()),
                        memory=text,
                        hash=self.models.memory_hash(text),
                        created_at=created,
                        user_id=f"user-{i % USERS}",
                        agent_id="assistant",
                    )
                    self.store.insert_memory(record, vectors[i], self.search.keyword_text(record))

    def query(self, scope: dict[str, str], text: str, vector: np.ndarray, now: datetime) -> None:
        read = self.base.Query(self.models.Scope(**scope), None, now)
        self.search.hybrid_search(self.store, read, text, vector, limit=10)


def main() -> None:
    rng = random.Random(SIZE)
    day = datetime(2023, 1, 1, tzinfo=UTC)
    rows = [
        (f"User {i % USERS} {rng.choice(VERBS)} {rng.choice(SUBJECTS)} (note {i})", day + timedelta(minutes=i))
        for i in range(SIZE)
    ]
    vectors = np.random.default_rng(0).standard_normal((SIZE, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    probes = np.random.default_rng(1).standard_normal((QUERIES, DIMENSION)).astype(np.float32)
    texts = [f"what does she think about {rng.choice(SUBJECTS)}" for _ in range(QUERIES)]
    users = [f"user-{rng.randrange(USERS)}" for _ in range(QUERIES)]
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        sides = {name: Side(package, Path(folder) / f"{name}.db") for name, package in
                 (("before", "engram_before"), ("after", "engram"))}  # fmt: skip
        for side in sides.values():
            side.fill(rows, vectors)
        scopes: list[tuple[str, Callable[[int], dict[str, str]], int]] = [
            ("scoped", lambda i: {"user_id": users[i]}, QUERIES),
            ("unscoped", lambda i: {"agent_id": "assistant"}, max(20, QUERIES // 10)),
        ]
        for name, scope_of, count in scopes:
            samples: dict[str, list[float]] = {"before": [], "after": []}
            for side in sides.values():  # warm both vector caches
                side.query(scope_of(0), texts[0], probes[0], now)
            for i in range(count):
                order = list(sides)
                rng.shuffle(order)
                for key in order:
                    start = time.perf_counter()
                    sides[key].query(scope_of(i), texts[i], probes[i], now)
                    samples[key].append((time.perf_counter() - start) * 1000)
            p50 = {key: float(np.percentile(values, 50)) for key, values in samples.items()}
            p95 = {key: float(np.percentile(values, 95)) for key, values in samples.items()}
            print(
                f"{SIZE:,} memories, {name} search x{count}: "
                f"before p50 {p50['before']:.3f} ms (p95 {p95['before']:.3f}), "
                f"after p50 {p50['after']:.3f} ms (p95 {p95['after']:.3f}), "
                f"after/before {p50['after'] / p50['before']:.3f}"
            )
        for side in sides.values():
            side.store.close()


if __name__ == "__main__":
    main()
