"""Scores for one question and their aggregates. Pure functions, no I/O.

Retrieval is scored at the level of dialog turns: a retrieved memory "covers"
the turns whose ids it keeps in ``metadata["source_ids"]``. Recall@k is the
share of a question's evidence turns covered by the first k memories, and the
reciprocal rank is 1 / the rank of the first memory covering any evidence turn.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

RECALL_KS = (5, 10, 20)

_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}]")
_ARTICLES = re.compile(r"\b(a|an|the|and)\b")


def recall_at_k(retrieved: Sequence[Iterable[str]], evidence: Sequence[str], k: int) -> float:
    """Share of ``evidence`` ids found among the source ids of the first ``k`` retrieved memories."""
    if not evidence:
        return 0.0
    covered = {source for sources in retrieved[:k] for source in sources}
    return sum(1 for e in set(evidence) if e in covered) / len(set(evidence))


def reciprocal_rank(retrieved: Sequence[Iterable[str]], evidence: Sequence[str]) -> float:
    """1 / rank of the first retrieved memory holding any evidence id; 0 when none does."""
    wanted = set(evidence)
    for rank, sources in enumerate(retrieved, start=1):
        if wanted.intersection(sources):
            return 1.0 / rank
    return 0.0


def normalise_answer(text: str) -> list[str]:
    """Lower case, no punctuation, no articles: the SQuAD normalisation LoCoMo scores with."""
    text = _PUNCTUATION.sub(" ", str(text).lower())
    return _ARTICLES.sub(" ", text).split()


def token_f1(prediction: str, truth: str) -> float:
    """Harmonic mean of token precision and recall after normalisation."""
    pred, gold = normalise_answer(prediction), normalise_answer(truth)
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def bleu1(prediction: str, truth: str) -> float:
    """Clipped unigram precision times the brevity penalty (one reference)."""
    pred, gold = normalise_answer(prediction), normalise_answer(truth)
    if not pred or not gold:
        return 0.0
    clipped = sum((Counter(pred) & Counter(gold)).values())
    penalty = 1.0 if len(pred) > len(gold) else math.exp(1 - len(gold) / len(pred))
    return penalty * clipped / len(pred)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) with linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Averages of every per-question score present in ``rows`` (one dict per question)."""
    summary: dict[str, Any] = {"questions": len(rows)}
    for key in (*(f"recall@{k}" for k in RECALL_KS), "mrr", "judge", "f1", "bleu1", "tokens"):
        values = [float(row[key]) for row in rows if row.get(key) is not None]
        if values:
            summary[key] = mean(values)
    for key in ("search_ms", "answer_ms"):
        values = [float(row[key]) for row in rows if row.get(key) is not None]
        if values:
            summary[f"{key}_p50"] = percentile(values, 50)
            summary[f"{key}_p95"] = percentile(values, 95)
    return summary
