"""Retrieval quality of the embedded defaults on LoCoMo: turn-level Recall@5/10/20 and MRR.

Runs ``engram eval locomo`` with ``infer=False`` (every turn stored verbatim, no LLM) on a fresh
database and checks the target of issue 4: Recall@10 over categories 1–4 of at least 0.80.

    .venv/bin/python bench/bench_recall.py [PATH] [--out DIR] [--conversations conv-26,conv-30] [--graph]

``--graph`` turns graph memory on (entities from the speakers' names and the local entity
recogniser of ``engramdb[graph]``); run with and without it to compare, category by category.

PATH defaults to ../shared/data/locomo-dev.json (CC BY-NC: read from there, never copied here).
Results, plots and per-question rows land in DIR (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from engram.eval.report import RESULTS_MD
from engram.eval.runner import run_locomo

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo-dev.json"
TARGET_RECALL_AT_10 = 0.80


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=str(DEFAULT_DATASET))
    parser.add_argument("--out", help="output folder (default: a temporary one)")
    parser.add_argument("--conversations", help="comma-separated sample ids (default: all)")
    parser.add_argument("--graph", action="store_true", help="turn graph memory on (infer=False: local NER)")
    args = parser.parse_args()
    conversations = [c for c in (args.conversations or "").split(",") if c] or None
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(args.out or scratch)
        started = time.perf_counter()
        config = {"graph_store": {"provider": "sqlite"}} if args.graph else None
        run = run_locomo(args.path, out, conversations=conversations, config=config)
        elapsed = time.perf_counter() - started
        print((out / RESULTS_MD).read_text(encoding="utf-8"))
    recall = sum(row["recall@10"] for row in run.rows) / max(1, len(run.rows))
    verdict = "meets" if recall >= TARGET_RECALL_AT_10 else "misses"
    print(f"Recall@10 {recall:.3f} {verdict} the target {TARGET_RECALL_AT_10:.2f} ({elapsed:.0f} s in all; ")
    print("search latency above includes embedding the question; bench/bench_core.py measures search alone)")


if __name__ == "__main__":
    main()
