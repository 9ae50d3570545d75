"""Benchmark of the embedded core: search latency and add throughput on SQLite.

For 10k and 100k memories spread over 1,000 users it prints:
- scoped search (one user's memories) p50/p95, excluding the query embedding;
- unscoped search (a scope every memory shares) p50/p95;
- the same searches as a bare numpy dot product over an in-memory matrix, as the baseline floor;
- add throughput with infer=False through Memory.add (real local embedder), one message per call
  (a plain string, and a chat turn, which is indexed with the stored turns before it) and 50
  messages per call, next to the embedder alone as the baseline.

    .venv/bin/python bench/bench_core.py [--sizes 10000 100000] [--queries 300]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from engram import Memory
from engram.embedders.local_minilm import LocalMiniLM
from engram.models import MemoryRecord, Scope, memory_hash
from engram.search import hybrid_search, keyword_text
from engram.storage.base import Query
from engram.storage.sqlite import SQLiteStore

USERS = 1_000
DIMENSION = 384
SHARED_AGENT = "assistant"  # every memory has it, so searching by it is "unscoped"
SUBJECTS = ["hiking", "jazz", "sushi", "chess", "yoga", "Lisbon", "tennis", "pottery", "Python", "gardening"]
VERBS = ["loves", "started", "stopped", "booked", "talked about", "is learning", "bought gear for", "dreams of"]


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples), q))


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def fill(store: SQLiteStore, size: int, rng: random.Random) -> float:
    """Insert ``size`` memories with random unit vectors; returns rows per second."""
    vectors = np.random.default_rng(0).standard_normal((size, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start_day = datetime(2023, 1, 1, tzinfo=UTC)
    start = time.perf_counter()
    for chunk in range(0, size, 5_000):
        with store.transaction():
            for i in range(chunk, min(size, chunk + 5_000)):
                text = f"User {i % USERS} {rng.choice(VERBS)} {rng.choice(SUBJECTS)} (note {i})"
                record = MemoryRecord(
                    id=str(uuid.uuid4()),
                    memory=text,
                    hash=memory_hash(text),
                    created_at=start_day + timedelta(minutes=i),
                    user_id=f"user-{i % USERS}",
                    agent_id=SHARED_AGENT,
                )
                store.insert_memory(record, vectors[i], keyword_text(record))
    return size / (time.perf_counter() - start)


def bench_search(size: int, queries: int) -> None:
    rng = random.Random(size)
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "bench.db")
        rows_per_s = fill(store, size, rng)
        matrix = np.random.default_rng(0).standard_normal((size, DIMENSION)).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        per_user = matrix[: size // USERS]
        query_vectors = np.random.default_rng(1).standard_normal((queries, DIMENSION)).astype(np.float32)
        texts = [f"what does she think about {rng.choice(SUBJECTS)}" for _ in range(queries)]
        users = [f"user-{rng.randrange(USERS)}" for _ in range(queries)]
        now = datetime.now(UTC)

        it = iter(range(10**9))

        def scoped() -> None:
            i = next(it) % queries
            hybrid_search(store, Query(Scope(user_id=users[i]), None, now), texts[i], query_vectors[i], limit=10)

        def unscoped() -> None:
            i = next(it) % queries
            scope = Scope(agent_id=SHARED_AGENT)
            hybrid_search(store, Query(scope, None, now), texts[i], query_vectors[i], limit=10)

        def numpy_scoped() -> None:
            np.argsort(-(per_user @ query_vectors[next(it) % queries]))[:10]

        def numpy_unscoped() -> None:
            scores = matrix @ query_vectors[next(it) % queries]
            np.argpartition(-scores, 10)[:10]

        scoped_ms = timed(scoped, queries)
        unscoped_ms = timed(unscoped, max(20, queries // 10))
        floor_scoped = timed(numpy_scoped, queries)
        floor_unscoped = timed(numpy_unscoped, max(20, queries // 10))
        store.close()

    print(f"\n{size:,} memories over {USERS:,} users (bulk insert: {rows_per_s:,.0f} rows/s)")
    print(f"  {'':<22}{'p50 ms':>9}{'p95 ms':>9}{'numpy floor p50':>17}{'ratio':>8}")
    for name, samples, floor in (
        ("scoped search", scoped_ms, floor_scoped),
        ("unscoped search", unscoped_ms, floor_unscoped),
    ):
        p50, p95, f50 = percentile(samples, 50), percentile(samples, 95), percentile(floor, 50)
        print(f"  {name:<22}{p50:>9.3f}{p95:>9.3f}{f50:>17.3f}{p50 / f50:>7.1f}x")


def bench_add(count: int) -> None:
    embedder = LocalMiniLM()
    embedder.embed_batch(["warm up"])
    texts = [
        f"I {random.choice(VERBS)} {random.choice(SUBJECTS)} since {2000 + i % 25} (entry {i})" for i in range(count)
    ]
    with tempfile.TemporaryDirectory() as folder:
        config = {"vector_store": {"provider": "sqlite", "config": {"path": str(Path(folder) / "add.db")}}}
        with Memory(config, embedder=embedder) as memory:
            start = time.perf_counter()
            for i, text in enumerate(texts):
                memory.add(text, user_id=f"user-{i % 50}", infer=False)
            single = count / (time.perf_counter() - start)
            start = time.perf_counter()
            for i, text in enumerate(texts):  # chat turns: each indexed with the stored turns before it
                memory.add({"role": "user", "content": text + " (chat)"}, user_id=f"chat-{i % 5}", infer=False)
            chat = count / (time.perf_counter() - start)
            start = time.perf_counter()
            for batch in range(0, count, 50):
                memory.add(
                    [{"role": "user", "content": t + " (batched)"} for t in texts[batch : batch + 50]],
                    user_id=f"user-{batch % 50}",
                    infer=False,
                )
            batched = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for text in texts:
        embedder.embed_batch([text])
    embed_single = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for batch in range(0, count, 50):
        embedder.embed_batch(texts[batch : batch + 50])
    embed_batched = count / (time.perf_counter() - start)

    print(f"\nadd(infer=False) with the local embedder, {count:,} messages")
    print(f"  {'':<26}{'msgs/s':>9}{'embedder alone':>16}{'share of time in embedding':>29}")
    print(f"  {'one message per add':<26}{single:>9.0f}{embed_single:>16.0f}{single / embed_single:>28.0%}")
    print(f"  {'one chat turn per add':<26}{chat:>9.0f}{embed_single:>16.0f}{chat / embed_single:>28.0%}")
    print(f"  {'50 messages per add':<26}{batched:>9.0f}{embed_batched:>16.0f}{batched / embed_batched:>28.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--adds", type=int, default=500)
    args = parser.parse_args()
    for size in args.sizes:
        bench_search(size, args.queries)
    bench_add(args.adds)


if __name__ == "__main__":
    main()
