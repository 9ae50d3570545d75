"""Export and import speed: N memories (100k by default) in a SQLite store, exported to JSON Lines
(with and without vectors), then imported into an empty store (vectors from the file), and
imported under another embedder (vectors recomputed: the hashing embedder here, so the figure
is engram's own cost; with a real model the embedding dominates, see the MiniLM line).

    python bench/bench_export_import.py [--memories 100000] [--users 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.models import MemoryRecord, memory_hash
from engram.search import keyword_text
from engram.storage import SQLiteStore
from engram.storage.base import ExportedMemory

WORDS = "tea coffee lisbon porto cello marathon dog cat nurse teacher garden berlin sushi chess piano".split()


def fill(memory: Memory, count: int, users: int, dimension: int) -> None:
    rng = np.random.default_rng(0)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    batch: list[ExportedMemory] = []
    for i in range(count):
        text = f"Memory {i}: likes {WORDS[i % len(WORDS)]} and {WORDS[(i * 7) % len(WORDS)]}"
        created = start + timedelta(seconds=i)
        record = MemoryRecord(
            str(uuid.UUID(int=i)), text, memory_hash(text), created, created, {"n": i}, user_id=f"user-{i % users}"
        )
        vector = rng.standard_normal(dimension).astype(np.float32)
        batch.append(ExportedMemory(record, vector / np.linalg.norm(vector), keyword_text(record), []))
        if len(batch) == 5000:
            memory.store.import_memories(batch)
            batch = []
    if batch:
        memory.store.import_memories(batch)


def timed(label: str, count: int, action: object) -> float:
    """Wall time, and the process's CPU time (what the machine's other load does not inflate)."""
    started, cpu = time.perf_counter(), time.process_time()
    action()  # type: ignore[operator]
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    rates = f"{count / seconds:>9,.0f}/s   CPU {cpu_seconds:>6.2f} s {count / cpu_seconds:>9,.0f}/s"
    print(f"{label:<52}{seconds:>8.2f} s {rates}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--minilm-sample", type=int, default=2000, help="memories re-embedded with MiniLM")
    args = parser.parse_args()
    n = args.memories
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = Memory(store=SQLiteStore(root / "source.db"), embedder=HashingEmbedder(384))
        print(f"{n:,} memories over {args.users:,} users, 384-d vectors, SQLite\n")
        timed("fill the source store (bulk, not measured below)", n, lambda: fill(source, n, args.users, 384))
        plain, with_vectors = root / "plain.jsonl", root / "vectors.jsonl"
        timed("export, no vectors", n, lambda: source.export_jsonl(plain))
        timed("export, with vectors", n, lambda: source.export_jsonl(with_vectors, vectors=True))
        timed("export one user's memories (scoped)", n // args.users, lambda: source.export_jsonl(
            root / "one.jsonl", user_id="user-7"))  # fmt: skip
        print(f"{'':<52}file sizes: {plain.stat().st_size / 1e6:.0f} MB, {with_vectors.stat().st_size / 1e6:.0f} MB")
        same = Memory(store=SQLiteStore(root / "same.db"), embedder=HashingEmbedder(384))
        timed("import into an empty store, vectors from the file", n, lambda: same.import_jsonl(with_vectors))
        timed("import the same file again (nothing new)", n, lambda: same.import_jsonl(with_vectors))
        other = Memory(store=SQLiteStore(root / "other.db"), embedder=HashingEmbedder(256))
        timed("import under another embedder (hashing, recomputed)", n, lambda: other.import_jsonl(plain))
        if args.minilm_sample:
            from engram.embedders.local_minilm import LocalMiniLM

            sample = root / "sample.jsonl"
            with plain.open() as full, sample.open("w") as out:
                for number, line in enumerate(full):
                    if number > args.minilm_sample:
                        break
                    out.write(line)
            minilm = Memory(store=SQLiteStore(root / "minilm.db"), embedder=LocalMiniLM())
            timed(f"import {args.minilm_sample:,} re-embedded with MiniLM", args.minilm_sample,
                  lambda: minilm.import_jsonl(sample))  # fmt: skip


if __name__ == "__main__":
    main()
