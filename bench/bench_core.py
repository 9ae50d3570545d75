"""Benchmark of the embedded core: search latency and add throughput on SQLite.

For 10k and 100k memories spread over 1,000 users it prints:
- scoped search (one user's memories) p50/p95, excluding the query embedding;
- unscoped search (a scope every memory shares) p50/p95;
- the same searches as a bare numpy dot product over an in-memory matrix, as the baseline floor;
- add throughput with infer=False through Memory.add (real local embedder), one message per call
  (a plain string, and a chat turn, which is indexed with the stored turns before it) and 50
  messages per call, next to the embedder alone as the baseline.

    .venv/bin/python bench/bench_core.py [--sizes 10000 100000] [--queries 300] [--graph]

``--graph`` measures scoped search with graph memory off and on, on the same store, instead:
each user's memories link to the user and to the subject they name, each user likes every
subject and knows five people, and each query names a subject, so the graph walks 2 hops to
every memory of the user (the heaviest case for a user of this size).
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
from engram.graph_search import graph_candidates, match_query, query_relations
from engram.graph_settings import DEFAULT_HOPS
from engram.models import Entity, MemoryRecord, Relation, Scope, memory_hash
from engram.pipeline.entities import normalise_name
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


def fill_graph(store: SQLiteStore, rng: random.Random) -> None:
    """Entities, relations and memory links for every user of a store ``fill`` filled."""
    now = datetime(2023, 1, 1, tzinfo=UTC)
    people = ["Ana", "Ben", "Chloe", "Dev", "Eli"]
    rows = store._db.execute("SELECT id, memory, user_id FROM memories").fetchall()
    by_user: dict[str, list[tuple[str, str]]] = {}
    for memory_id, text, user in rows:
        by_user.setdefault(user, []).append((memory_id, text))
    for user, memories in by_user.items():
        owner = Scope(user_id=user)
        names = [user, *SUBJECTS, *people]
        entities = [Entity(str(uuid.uuid4()), name, normalise_name(name), owner, now) for name in names]
        vectors = np.random.default_rng(len(user)).standard_normal((len(names), DIMENSION)).astype(np.float32)
        with store.transaction():
            stored = store.graph.save_entities(list(zip(entities, vectors, strict=True)))
            me = stored[normalise_name(user)]

            pairs = [(me, "likes", stored[normalise_name(s)]) for s in SUBJECTS]
            pairs += [(stored[normalise_name(p)], "knows", me) for p in people]
            store.graph.insert_relations(
                [Relation(str(uuid.uuid4()), a.id, rel, b.id, owner, now, now) for a, rel, b in pairs]
            )
            links = []
            for memory_id, text in memories:
                links.append((memory_id, me.id))
                links += [(memory_id, stored[normalise_name(s)].id) for s in SUBJECTS if s in text]
            store.graph.link_memories(links)


def bench_graph_search(size: int, queries: int) -> None:
    rng = random.Random(size)
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "bench.db")
        fill(store, size, rng)
        fill_graph(store, rng)
        query_vectors = np.random.default_rng(1).standard_normal((queries, DIMENSION)).astype(np.float32)
        texts = [f"what does she think about {rng.choice(SUBJECTS)}" for _ in range(queries)]
        users = [f"user-{rng.randrange(USERS)}" for _ in range(queries)]
        now = datetime.now(UTC)
        it = iter(range(10**9))

        def graph_off() -> None:
            i = next(it) % queries
            hybrid_search(store, Query(Scope(user_id=users[i]), None, now), texts[i], query_vectors[i], limit=10)

        def graph_on() -> None:
            i = next(it) % queries
            scope = Scope(user_id=users[i])
            query = Query(scope, None, now)
            match = match_query(store, scope, texts[i], DEFAULT_HOPS)
            ranked = graph_candidates(store, query, match, limit=10_000)
            hybrid_search(store, query, texts[i], query_vectors[i], limit=10, graph=ranked)
            query_relations(match, limit=10)

        graph_off()  # loads the vector cache
        it = iter(range(10**9))
        off_ms: list[float] = []
        on_ms: list[float] = []
        for _ in range(queries):  # interleaved, so that a busy moment of the machine hits both alike
            off_ms += timed(graph_off, 1)
            on_ms += timed(graph_on, 1)
        store.close()
    print(f"\n{size:,} memories over {USERS:,} users, scoped search with graph memory off and on")
    print(f"  {'':<22}{'p50 ms':>9}{'p95 ms':>9}")
    for name, samples in (("graph off", off_ms), ("graph on (2 hops)", on_ms)):
        print(f"  {name:<22}{percentile(samples, 50):>9.3f}{percentile(samples, 95):>9.3f}")
    print(f"  on/off p50 ratio: {percentile(on_ms, 50) / percentile(off_ms, 50):.2f}x")


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
    parser.add_argument("--graph", action="store_true", help="search with graph memory off and on")
    args = parser.parse_args()
    if args.graph:
        for size in args.sizes:
            bench_graph_search(size, args.queries)
        return
    for size in args.sizes:
        bench_search(size, args.queries)
    bench_add(args.adds)


if __name__ == "__main__":
    main()
