"""Search: dense and keyword candidates from the store, fused into one score.

The score of a memory is ``DENSE_WEIGHT * cosine + KEYWORD_WEIGHT * keyword``,
where ``keyword`` is its BM25 score divided by the best BM25 score of the
query (so the best keyword match counts 1). Both parts lie in [0, 1] for
related text, so ``threshold`` means the same thing from query to query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engram.models import MemoryRecord
from engram.storage.base import Query, Store, Vector

DENSE_WEIGHT = 0.75
KEYWORD_WEIGHT = 0.25
MIN_POOL = 20  # candidates drawn from each side before fusion


@dataclass(frozen=True)
class Ranked:
    memory_id: str
    score: float
    dense: float
    keyword: float


@dataclass(frozen=True)
class Hit:
    record: MemoryRecord
    score: float


def fuse(dense: list[tuple[str, float]], keyword: list[tuple[str, float]]) -> list[Ranked]:
    """Combine both rankings; a memory missing from the dense side gets the lowest dense score seen."""
    dense_floor = min((score for _, score in dense), default=0.0)
    best_keyword = max((score for _, score in keyword), default=0.0)
    dense_scores = dict(dense)
    keyword_scores = {
        memory_id: score / best_keyword if best_keyword > 0 else 0.0 for memory_id, score in keyword
    }
    ranked = []
    for memory_id in dense_scores | keyword_scores:
        d = dense_scores.get(memory_id, dense_floor)
        k = keyword_scores.get(memory_id, 0.0)
        ranked.append(Ranked(memory_id, DENSE_WEIGHT * d + KEYWORD_WEIGHT * k, d, k))
    ranked.sort(key=lambda r: (-r.score, r.memory_id))
    return ranked


def hybrid_search(
    store: Store,
    scope_query: Query,
    text: str,
    vector: Vector,
    *,
    limit: int,
    threshold: float | None = None,
) -> list[Hit]:
    pool = max(MIN_POOL, limit * 2)
    ranked = fuse(
        store.vector_search(scope_query, vector, pool),
        store.keyword_search(scope_query, text, pool),
    )
    if threshold is not None:
        ranked = [r for r in ranked if r.score >= threshold]
    ranked = ranked[:limit]
    records = store.get_memories([r.memory_id for r in ranked])
    return [Hit(records[r.memory_id], r.score) for r in ranked if r.memory_id in records]


def date_words(moment: datetime) -> str:
    """How a date is written into the indexed text, so "May 2023" and "2023-05-08" both match."""
    return f"{moment.date().isoformat()} {moment.day} {moment:%B %Y %A}"


def index_text(record: MemoryRecord) -> str:
    """What is embedded and keyword-indexed for a memory: its text and its date."""
    return f"{record.memory} ({date_words(record.created_at)})"
