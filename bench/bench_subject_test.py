"""How well do the add pipeline's guards separate right from wrong?

- the UPDATE subject test (``engram.pipeline.guards.subject_similarity``) on the hand-written
  (old memory, new text, same subject?) pairs of bench/data/subject_pairs.json;
- (the forget match has its own benchmark: bench/bench_forget.py).

For each, the threshold is picked by 5-fold cross-validation (the one that minimises the
balanced error on four folds is scored on the fifth); the held-out error rates are printed,
then the rates of the threshold engram ships, on all pairs, with the pairs it gets wrong.

    PYTHONPATH=src python bench/bench_subject_test.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from engram.embedders import build_embedder
from engram.embedders.base import Embedder
from engram.pipeline.neighbours import NEIGHBOUR_FLOOR
from engram.pipeline.guards import SUBJECT_THRESHOLD, subject_similarity

DATA = Path(__file__).parent / "data"
FOLDS = 5


def rates(scored: list[tuple[float, bool]], threshold: float) -> tuple[float, float]:
    """(false accept rate, false reject rate): off-subject pairs let through, same-subject pairs refused."""
    negatives = [s for s, same in scored if not same]
    positives = [s for s, same in scored if same]
    false_accept = sum(s >= threshold for s in negatives) / max(len(negatives), 1)
    false_reject = sum(s < threshold for s in positives) / max(len(positives), 1)
    return false_accept, false_reject


def best_threshold(scored: list[tuple[float, bool]]) -> float:
    candidates = sorted({round(s, 3) for s, _ in scored})
    return min(candidates, key=lambda t: (sum(rates(scored, t)), -t))


def evaluate(name: str, pairs: list[list[object]], scores: list[float], shipped: float) -> None:
    scored = [(float(s), bool(same)) for s, (_, _, same) in zip(scores, pairs, strict=True)]
    print(f"\n## {name}: {len(scored)} pairs ({sum(same for _, same in scored)} positive)")
    for label, same in (("positive", True), ("negative", False)):
        values = sorted(s for s, m in scored if m == same)
        print(f"  {label}: min {values[0]:.3f}  median {values[len(values) // 2]:.3f}  max {values[-1]:.3f}")

    order = list(range(len(scored)))
    random.Random(7).shuffle(order)
    held_out_fa = held_out_fr = 0.0
    chosen = []
    for fold in range(FOLDS):
        test = [scored[i] for i in order[fold::FOLDS]]
        train = [scored[i] for j, i in enumerate(order) if j % FOLDS != fold]
        threshold = best_threshold(train)
        chosen.append(threshold)
        fa, fr = rates(test, threshold)
        held_out_fa += fa / FOLDS
        held_out_fr += fr / FOLDS
    print(f"cross-validated thresholds: {', '.join(f'{t:.3f}' for t in chosen)}")
    print(f"held-out error: false accept {held_out_fa:.3f}, false reject {held_out_fr:.3f}")
    fa, fr = rates(scored, shipped)
    print(f"shipped threshold {shipped}: false accept {fa:.3f}, false reject {fr:.3f} (all pairs)")
    print("misjudged at the shipped threshold:")
    for (old, new, same), (score, _) in zip(pairs, scored, strict=True):
        if (score >= shipped) != same:
            print(f"  {score:.3f} {'pos' if same else 'neg'}  {old!r} -> {new!r}")


def neighbour_floor(embedder: Embedder, pairs: list[list[object]]) -> None:
    """What a floor on plain cosine (what retrieval sees) keeps: every same-subject memory must be
    shown to the LLM, or the change cannot become an UPDATE."""
    olds = embedder.embed_batch([str(p[0]) for p in pairs], purpose="document")
    news = embedder.embed_batch([str(p[1]) for p in pairs], purpose="query")
    scores = (olds * news).sum(axis=1)
    print("\n## neighbour floor (plain cosine, memory vs new text)")
    for floor in (0.2, 0.3, 0.4, 0.5):
        kept_same = sum(s >= floor for s, p in zip(scores, pairs, strict=True) if p[2])
        kept_other = sum(s >= floor for s, p in zip(scores, pairs, strict=True) if not p[2])
        print(f"  floor {floor}: same-subject shown {kept_same}/40, others shown {kept_other}/40")
    print(f"  shipped NEIGHBOUR_FLOOR {NEIGHBOUR_FLOOR} (per sentence of the incoming messages)")


def main() -> None:
    embedder = build_embedder()
    pairs = json.loads((DATA / "subject_pairs.json").read_text(encoding="utf-8"))["pairs"]
    neighbour_floor(embedder, pairs)
    scores = subject_similarity(embedder, [p[0] for p in pairs], [p[1] for p in pairs])
    evaluate("UPDATE subject test", pairs, scores, SUBJECT_THRESHOLD)


if __name__ == "__main__":
    main()
