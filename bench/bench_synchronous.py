"""What a power-cut-proof SQLite commit costs: adds per second with ``synchronous`` NORMAL and FULL.

engram runs SQLite in WAL mode with ``synchronous = NORMAL`` by default: a killed process loses
nothing it acknowledged, but a power cut (or an OS crash) may lose the last commits. The store
setting ``"synchronous": "full"`` syncs the WAL on every commit; this measures the cost per add
(``infer=False``, one message per add, the hashing embedder so that only storage is timed), both
settings in the same process, alternating rounds.

    PYTHONPATH=src python bench/bench_synchronous.py [--adds 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.storage import SQLiteStore


def per_add_ms(path: Path, synchronous: str, adds: int) -> float:
    with Memory(store=SQLiteStore(path, synchronous=synchronous), embedder=HashingEmbedder()) as memory:  # type: ignore[arg-type]
        started = time.perf_counter()
        for i in range(adds):
            memory.add(f"message number {i} of a long chat", user_id="u", infer=False)
        return (time.perf_counter() - started) * 1000 / adds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adds", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    timings: dict[str, list[float]] = {"normal": [], "full": []}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for setting in timings:
                timings[setting].append(per_add_ms(Path(folder) / f"{setting}-{round_}.db", setting, args.adds))
    normal, full = (statistics.median(timings[s]) for s in ("normal", "full"))
    print(f"{args.adds} adds x {args.rounds} rounds, median ms per add")
    print(f"  synchronous=normal (default): {normal:.2f} ms")
    print(f"  synchronous=full:             {full:.2f} ms  ({full / normal:.2f}x normal)")


if __name__ == "__main__":
    main()
