"""How much the graph should weigh in search: leave-one-conversation-out cross-validation.

Reuses the database of a ``bench/bench_recall.py --graph --out DIR`` run (the graph weight acts
only at search time, so nothing is ingested again). For each question it searches once per
candidate weight; then, for each conversation in turn, it picks the weight that does best on
the other conversations and scores that weight on the held-out one. It prints Recall@10 by
category for each fixed weight and for the cross-validated choice (the honest figure).

    .venv/bin/python bench/bench_graph_cv.py DIR [PATH] [--weights 0 0.05 0.1 0.2]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from engram import Memory, search
from engram.eval.locomo import load_locomo
from engram.eval.metrics import recall_at_k
from engram.eval.runner import DB_NAME, EvalOptions, scope_of
from engram.graph_search import graph_candidates, match_query
from engram.models import Scope
from engram.storage.base import Query

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo-dev.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="the --out folder of a bench_recall.py --graph run")
    parser.add_argument("path", nargs="?", default=str(DEFAULT_DATASET))
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2])
    args = parser.parse_args()
    options = EvalOptions(dataset=args.path)
    config = {
        "graph_store": {"provider": "sqlite"},
        "vector_store": {"provider": "sqlite", "config": {"path": str(Path(args.run_dir) / DB_NAME)}},
    }
    # recall[(conversation, category)][weight] -> list of per-question Recall@10
    recall: dict[tuple[str, int], dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    with Memory(config) as memory:
        assert memory.graph_settings is not None
        for conversation in load_locomo(args.path):
            scope = Scope(user_id=scope_of(conversation))
            for question in conversation.questions:
                if question.category not in CATEGORIES or not question.evidence:
                    continue
                vector = memory.embedder.embed_batch([question.question], purpose="query")[0]
                query = Query(scope, None, datetime.now(UTC))
                match = match_query(memory.store, scope, question.question, memory.graph_settings.hops)
                ranked = graph_candidates(memory.store, query, match, limit=10_000)
                for weight in args.weights:
                    hits = search.hybrid_search(
                        memory.store,
                        query,
                        question.question,
                        vector,
                        limit=options.search_limit,
                        graph=ranked,
                        graph_weight=weight,
                    )
                    retrieved = [hit.record.metadata.get("source_ids", []) for hit in hits]
                    recall[(conversation.sample_id, question.category)][weight].append(
                        recall_at_k(retrieved, question.evidence, 10)
                    )

    conversations = sorted({c for c, _ in recall})

    def score(weight: float, keep: set[str], category: int | None = None) -> tuple[float, int]:
        values = [
            v
            for (c, cat), by_weight in recall.items()
            if c in keep and (category is None or cat == category)
            for v in by_weight[weight]
        ]
        return (sum(values) / len(values) if values else 0.0), len(values)

    print(f"Recall@10 on {args.path} by category (overall = categories 1-4)")
    header = "".join(f"{name:>13}" for name in CATEGORIES.values())
    print(f"{'weight':>10}{'overall':>10}{header}")
    everyone = set(conversations)
    for weight in args.weights:
        cells = "".join(f"{score(weight, everyone, cat)[0]:>13.3f}" for cat in CATEGORIES)
        print(f"{weight:>10.2f}{score(weight, everyone)[0]:>10.3f}{cells}")

    # Leave one conversation out: choose on the others, score on the one left out.
    chosen: dict[str, float] = {}
    for held_out in conversations:
        others = everyone - {held_out}
        chosen[held_out] = max(args.weights, key=lambda w: (score(w, others)[0], -w))
    totals: dict[int | None, list[float]] = defaultdict(list)
    for (c, cat), by_weight in recall.items():
        totals[cat] += by_weight[chosen[c]]
        totals[None] += by_weight[chosen[c]]
    cells = "".join(f"{sum(totals[cat]) / max(1, len(totals[cat])):>13.3f}" for cat in CATEGORIES)
    overall = sum(totals[None]) / max(1, len(totals[None]))
    print(f"{'CV':>10}{overall:>10.3f}{cells}")
    print("weights chosen per held-out conversation:", ", ".join(f"{c}={w:g}" for c, w in sorted(chosen.items())))


if __name__ == "__main__":
    main()
