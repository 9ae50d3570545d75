"""PostgreSQL + pgvector next to SQLite, in one run: search latency, add throughput, HNSW recall.

With N memories (default 100k) spread over 1,000 users, 384-dimension all-MiniLM-L6-v2 vectors of
real text, it prints:
- scoped search (one user's N/1000 memories): exact on both backends;
- unscoped search (an agent id that every memory shares): HNSW on Postgres, exact numpy on SQLite,
  and Postgres forced to scan exactly, for reference;
- where Postgres's exact scan stops paying: scopes of 1k, 5k, 20k and 50k memories, exact vs HNSW
  (this is what ``exact_search_max`` decides);
- HNSW recall@10 against exact search at ef_search 40/100/200, on the N vectors and on the real
  sentence embeddings alone;
- add throughput through ``Memory.add(infer=False)`` with precomputed vectors (the store's cost,
  not the embedder's), on the loaded stores.

Vectors: 4k sentences (--sentences) from the docstrings of Python's standard library, embedded once with the
packaged ``LocalMiniLM`` and cached under ~/.cache/engram-bench. The N stored vectors cycle through
them with a little noise (a cluster of near-paraphrases per sentence); the queries are held-out
sentences. The Postgres server is the test one (tests/local_postgres.py) with fsync on, or the
server at ``$ENGRAM_BENCH_DATABASE_URL``.

    .venv/bin/python bench/bench_postgres.py                 # 100k: ~5 min on 2 busy cores
    .venv/bin/python bench/bench_postgres.py --rows 1000000  # 1M: the HNSW build alone takes long
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import re
import shutil
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from engram import Memory
from engram.embedders.base import Purpose, Vectors
from engram.models import MemoryRecord, Scope, memory_hash
from engram.search import MIN_POOL as CANDIDATES  # what hybrid search asks each side for
from engram.search import hybrid_search
from engram.storage.base import Query, Store, Vector
from engram.storage.postgres import PostgresSettings, PostgresStore
from engram.storage.sqlite import SQLiteStore
from local_postgres import LocalPostgres

USERS = 1_000
AGENT = "bench"  # every memory has it: searching by it is "unscoped"
RUN_TIERS = {"run-1k": 1_000, "run-5k": 5_000, "run-20k": 20_000, "run-50k": 50_000}
MODEL = "all-MiniLM-L6-v2"
NOISE = 0.35  # norm of the noise added to a sentence vector: cosine ~0.94 to its sentence
CACHE = Path.home() / ".cache" / "engram-bench"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
STATS_FLUSH_S = 2.5  # idle backends report statistics about once a second
BENCH_SERVER = {"shared_buffers": "512MB", "max_connections": "50"}  # durable: fsync stays on


# -- data ------------------------------------------------------------------------------------------


def stdlib_sentences(limit: int) -> list[str]:
    """Distinct sentences from the docstrings of the standard library, in a stable order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found: dict[str, None] = {}
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        if "test" in path.parts or "idlelib" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                for sentence in SENTENCE_END.split(" ".join((ast.get_docstring(node) or "").split())):
                    if 40 <= len(sentence) <= 300 and not sentence.startswith((">>>", "...")):
                        found.setdefault(sentence)
        if len(found) >= limit:
            break
    return list(found)[:limit]


def embed_cached(sentences: list[str]) -> np.ndarray:
    key = hashlib.sha256("\n".join(sentences).encode()).hexdigest()[:16]
    path = CACHE / f"minilm-{len(sentences)}-{key}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    from engram.embedders.local_minilm import LocalMiniLM

    embedder = LocalMiniLM()
    start = time.perf_counter()
    vectors = np.vstack([embedder.embed_batch(sentences[i : i + 128]) for i in range(0, len(sentences), 128)])
    print(f"embedded {len(sentences)} sentences in {time.perf_counter() - start:.0f} s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors.astype(np.float32))
    return vectors.astype(np.float32)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return np.asarray(matrix / np.linalg.norm(matrix, axis=1, keepdims=True), dtype=np.float32)


def dataset(real: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` vectors cycling through the real ones (noise after the first copy), and their sentence."""
    source = np.arange(rows) % len(real)
    noise = np.random.default_rng(0).standard_normal((rows, real.shape[1])).astype(np.float32)
    noise *= NOISE / np.sqrt(real.shape[1])
    noise[: len(real)] = 0
    return unit_rows(real[source] + noise), source


def run_of(i: int) -> str | None:
    start = 0
    for name, size in RUN_TIERS.items():
        if start <= i < start + size:
            return name
        start += size
    return None


def records(sentences: list[str], source: np.ndarray) -> list[MemoryRecord]:
    day = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for i, s in enumerate(source):
        text = f"{sentences[s]} [{i}]"
        out.append(
            MemoryRecord(
                id=f"m{i}",
                memory=text,
                hash=memory_hash(text),
                created_at=day + timedelta(minutes=i),
                user_id=f"user{i % USERS}",
                agent_id=AGENT,
                run_id=run_of(i),
            )
        )
    return out


# -- loading ---------------------------------------------------------------------------------------


def load_postgres(url: str, schema: str, recs: list[MemoryRecord], vectors: np.ndarray) -> tuple[float, float]:
    """Bulk-insert, then build the HNSW index; returns (insert seconds, index seconds)."""
    store = PostgresStore(url, PostgresSettings(schema=schema))
    store.bind_embedder(MODEL, vectors.shape[1])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        conn.execute("DROP INDEX memories_embedding")  # building once at the end is much faster
        start = time.perf_counter()
        for i in range(0, len(recs), 5_000):
            store.insert_memories([(r, vectors[j], r.memory) for j, r in enumerate(recs[i : i + 5_000], start=i)])
        inserted = time.perf_counter() - start
        start = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '2GB'")  # the whole graph in memory up to ~1M memories
        settings = store.settings
        conn.execute(
            sql.SQL(
                "CREATE INDEX memories_embedding ON memories USING hnsw (embedding vector_cosine_ops) "
                "WITH (m = {}, ef_construction = {})"
            ).format(sql.Literal(settings.hnsw_m), sql.Literal(settings.hnsw_ef_construction))
        )
        conn.execute("VACUUM ANALYZE memories")
        indexed = time.perf_counter() - start
    store.close()
    return inserted, indexed


def load_sqlite(path: Path, recs: list[MemoryRecord], vectors: np.ndarray) -> tuple[SQLiteStore, float]:
    store = SQLiteStore(path)
    store.bind_embedder(MODEL, vectors.shape[1])
    start = time.perf_counter()
    for i in range(0, len(recs), 5_000):
        with store.transaction():
            for j, r in enumerate(recs[i : i + 5_000], start=i):
                store.insert_memory(r, vectors[j], r.memory)
    return store, time.perf_counter() - start


# -- measuring -------------------------------------------------------------------------------------


def latencies(fn: Callable[[int], object], count: int) -> tuple[float, float]:
    for i in range(count):  # one untimed pass: both backends answer from a warm cache
        fn(i)
    samples = []
    for i in range(count):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def recall_at_10(store: Store, scope: Scope, queries: np.ndarray, truth: Truth) -> tuple[float, float]:
    """Share of the exact top 10 found, and how much lower the found top 10's mean cosine is."""
    hits, gap = 0, 0.0
    for q, (expected, best_mean) in zip(queries, truth, strict=True):
        found = store.vector_search(Query(scope), q, 10)
        hits += len({memory_id for memory_id, _ in found} & set(expected))
        gap += best_mean - float(np.mean([score for _, score in found])) if found else best_mean
    return hits / (10 * len(queries)), gap / len(queries)


Truth = list[tuple[list[str], float]]


def exact_top10(vectors: np.ndarray, ids: Sequence[str], queries: np.ndarray) -> Truth:
    """Per query: the ids of the exact top 10 and their mean cosine."""
    scores = queries @ vectors.T
    top = np.argsort(-scores, axis=1)[:, :10]
    return [([ids[j] for j in row], float(scores[i, row].mean())) for i, row in enumerate(top)]


def index_scans(url: str, schema: str, index: str, *, settle: bool = True) -> int:
    """How often the index was scanned; ``settle`` waits for idle backends to flush their statistics."""
    if settle:
        time.sleep(STATS_FLUSH_S)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT idx_scan FROM pg_stat_user_indexes WHERE schemaname = %s AND indexrelname = %s",
            (schema, index),
        ).fetchone()
    return int(row[0]) if row else 0


class PrecomputedEmbedder:
    """Hands out stored vectors in turn, so add throughput measures the store, not a model."""

    model_name = MODEL

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors, self.next, self.dimension = vectors, 0, vectors.shape[1]

    def embed_batch(self, texts: list[str], *, purpose: Purpose = "document") -> Vectors:
        rows = [self.vectors[(self.next + i) % len(self.vectors)] for i in range(len(texts))]
        self.next += len(texts)
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dimension)


def add_rate(store: Store, vectors: np.ndarray, count: int) -> float:
    memory = Memory(store=store, embedder=PrecomputedEmbedder(vectors))
    start = time.perf_counter()
    for i in range(count):
        memory.add(f"fresh fact number {i} for the add benchmark", user_id=f"user{i % USERS}", infer=False)
    return count / (time.perf_counter() - start)


# -- the run ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sentences", type=int, default=4_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--adds", type=int, default=300)
    args = parser.parse_args()

    sentences = stdlib_sentences(args.sentences)
    real = embed_cached(sentences)
    base, queries = real[: -args.queries], real[-args.queries :]
    vectors, source = dataset(base, args.rows)
    recs = records(sentences, source)
    ids = [r.id for r in recs]
    print(
        f"{args.rows:,} memories from {len(base):,} real sentences; {args.queries} held-out queries; "
        f"{os.cpu_count()} cores",
        flush=True,
    )

    server = None
    url = os.environ.get("ENGRAM_BENCH_DATABASE_URL")
    if not url:
        server = LocalPostgres.start(BENCH_SERVER)
        url = server.url
    workdir = Path(tempfile.mkdtemp(prefix="engram-bench-"))
    try:
        report(args, url, workdir, sentences, base, queries, vectors, recs, ids)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if server is not None:
            server.stop()


def report(
    args: argparse.Namespace,
    url: str,
    workdir: Path,
    sentences: list[str],
    base: np.ndarray,
    queries: np.ndarray,
    vectors: np.ndarray,
    recs: list[MemoryRecord],
    ids: list[str],
) -> None:
    schema = f"bench_{os.getpid()}"
    inserted, indexed = load_postgres(url, schema, recs, vectors)
    with psycopg.connect(url) as conn:
        facts = conn.execute(
            "SELECT current_setting('server_version'), (SELECT extversion FROM pg_extension WHERE "
            "extname = 'vector'), current_setting('fsync'), current_setting('synchronous_commit'), "
            "current_setting('shared_buffers')"
        ).fetchone()
    print("postgres {}, pgvector {}, fsync {}, synchronous_commit {}, shared_buffers {}".format(*facts), flush=True)
    print(
        f"postgres: inserted in {inserted:.1f} s ({len(recs) / inserted:,.0f}/s), HNSW built in {indexed:.1f} s",
        flush=True,
    )
    sqlite, sqlite_load = load_sqlite(workdir / "bench.db", recs, vectors)
    print(f"sqlite:   inserted in {sqlite_load:.1f} s ({len(recs) / sqlite_load:,.0f}/s)", flush=True)

    pg = PostgresStore(url, PostgresSettings(schema=schema))
    pg_exact = PostgresStore(url, PostgresSettings(schema=schema, exact_search_max=10**9, max_connections=2))
    pg_hnsw = PostgresStore(url, PostgresSettings(schema=schema, exact_search_max=0, max_connections=2))
    texts = [sentences[len(base) + i] for i in range(len(queries))]
    n = args.queries

    def q(i: int) -> Vector:
        row: Vector = queries[i % len(queries)]
        return row

    def user(i: int) -> Scope:
        return Scope(user_id=f"user{(i * 37) % USERS}")

    everyone = Scope(agent_id=AGENT)
    rows: list[tuple[str, tuple[float, float], tuple[float, float]]] = []

    def both(label: str, pg_fn: Callable[[int], Any], lite_fn: Callable[[int], Any], count: int = n) -> None:
        rows.append((label, latencies(pg_fn, count), latencies(lite_fn, count)))
        print(f"  measured {label}", flush=True)

    print("search latency (ms, excluding the query embedding):", flush=True)
    before = index_scans(url, schema, "memories_embedding", settle=False)
    both(
        f"scoped vector top-{CANDIDATES}",
        lambda i: pg.vector_search(Query(user(i)), q(i), CANDIDATES),
        lambda i: sqlite.vector_search(Query(user(i)), q(i), CANDIDATES),
    )
    scoped_hnsw_scans = index_scans(url, schema, "memories_embedding") - before
    both(
        "scoped hybrid top-10",
        lambda i: hybrid_search(pg, Query(user(i)), texts[i % n], q(i), limit=10),
        lambda i: hybrid_search(sqlite, Query(user(i)), texts[i % n], q(i), limit=10),
    )
    before = index_scans(url, schema, "memories_embedding")
    both(
        f"unscoped vector top-{CANDIDATES}",
        lambda i: pg.vector_search(Query(everyone), q(i), CANDIDATES),
        lambda i: sqlite.vector_search(Query(everyone), q(i), CANDIDATES),
    )
    unscoped_hnsw_scans = index_scans(url, schema, "memories_embedding") - before
    both(
        "unscoped hybrid top-10",
        lambda i: hybrid_search(pg, Query(everyone), texts[i % n], q(i), limit=10),
        lambda i: hybrid_search(sqlite, Query(everyone), texts[i % n], q(i), limit=10),
        count=min(n, 50),
    )
    print(f"  {'':26} {'postgres p50/p95':>18} {'sqlite p50/p95':>18} {'sqlite/pg p50':>14}")
    for label, (pg50, pg95), (lite50, lite95) in rows:
        print(f"  {label:26} {pg50:8.2f} / {pg95:7.2f} {lite50:8.2f} / {lite95:7.2f} {lite50 / pg50:13.2f}x")
    exact50, exact95 = latencies(lambda i: pg_exact.vector_search(Query(everyone), q(i), CANDIDATES), 20)
    print(f"  unscoped vector top-{CANDIDATES}, postgres forced exact: {exact50:.1f} / {exact95:.1f}")
    print(
        f"  HNSW index scans: {scoped_hnsw_scans} for {n + 1} scoped queries (exact path), "
        f"{unscoped_hnsw_scans} for {n + 1} unscoped queries (HNSW path)"
    )

    print(f"postgres scope size: exact scan vs HNSW (vector top-{CANDIDATES}, ms p50/p95; HNSW recall@10)", flush=True)
    end = 0
    for run, size in RUN_TIERS.items():
        end += size
        if end > len(recs):
            break
        scope = Scope(run_id=run)
        members = [i for i, r in enumerate(recs) if r.run_id == run]
        truth = exact_top10(vectors[members], [ids[i] for i in members], queries[:50])
        e = latencies(lambda i, s=scope: pg_exact.vector_search(Query(s), q(i), CANDIDATES), 30)  # type: ignore[misc]
        h = latencies(lambda i, s=scope: pg_hnsw.vector_search(Query(s), q(i), CANDIDATES), 30)  # type: ignore[misc]
        recall, gap = recall_at_10(pg_hnsw, scope, queries[:50], truth)
        print(
            f"  {size:>7,} memories: exact {e[0]:6.2f} / {e[1]:6.2f}   hnsw {h[0]:6.2f} / {h[1]:6.2f}   "
            f"recall {recall:.3f} (cosine gap {gap:.4f})",
            flush=True,
        )

    print("HNSW recall@10 against exact (unscoped, all memories):", flush=True)
    truth = exact_top10(vectors, ids, queries)
    for ef in (40, 100, 200):
        store = PostgresStore(url, PostgresSettings(schema=schema, exact_search_max=0, ef_search=ef))
        r, gap = recall_at_10(store, everyone, queries, truth)
        p50, p95 = latencies(lambda i, s=store: s.vector_search(Query(everyone), q(i), 10), 100)  # type: ignore[misc]
        print(f"  ef_search {ef:3}: recall@10 {r:.3f} (cosine gap {gap:.4f})   top-10 {p50:.2f} / {p95:.2f} ms")
        store.close()

    real_schema = schema + "_real"
    real_recs = records(sentences, np.arange(len(base)))
    load_postgres(url, real_schema, real_recs, base)
    real_truth = exact_top10(base, [x.id for x in real_recs], queries)
    for ef in (40, 100, 200):
        store = PostgresStore(url, PostgresSettings(schema=real_schema, exact_search_max=0, ef_search=ef))
        r, gap = recall_at_10(store, everyone, queries, real_truth)
        print(f"  real sentence vectors only ({len(base):,}), ef_search {ef:3}: recall@10 {r:.3f} (gap {gap:.4f})")
        store.close()

    print(
        f"add throughput, Memory.add(infer=False) one message per call, {args.adds} calls, "
        "precomputed vectors, on the loaded stores:",
        flush=True,
    )
    pg_rate = add_rate(pg, queries, args.adds)
    lite_rate = add_rate(sqlite, queries, args.adds)
    print(f"  postgres {pg_rate:7.1f} adds/s (fsync on, HNSW maintained)   sqlite {lite_rate:7.1f} adds/s")

    for opened in (pg, pg_exact, pg_hnsw, sqlite):
        opened.close()
    with psycopg.connect(url, autocommit=True) as conn:
        for name in (schema, real_schema):
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
