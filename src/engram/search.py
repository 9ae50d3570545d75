"""Search: dense and keyword candidates from the store, fused into one score.

The score of a memory is ``DENSE_WEIGHT * cosine + KEYWORD_WEIGHT * keyword``,
where ``keyword`` is its BM25 score divided by the best BM25 score of the
query (so the best keyword match counts 1). Both parts lie in [0, 1] for
related text, so ``threshold`` means the same thing from query to query.

What each side indexes (measured on LoCoMo-style conversations, turn-level
Recall@10 over categories 1–4, all-MiniLM-L6-v2; see bench/bench_recall.py):

- the vector embeds the memory's own text only (``embed_text``): adding the
  date or neighbouring turns blurs a short turn's meaning (-1 to -3 points);
- the keyword index holds the memory's text twice, the turns around it
  (``NEIGHBOUR_TURNS`` each side, when it was stored verbatim from a
  conversation) and its date (``keyword_text``). A turn like "Yes, every
  Sunday!" is found by the words of the question it answers (+9 points);
  its own words still weigh most;
- the question's function words ("what", "did", "the") are dropped before
  the keyword search (``keyword_query``): with OR semantics they otherwise
  match nearly every memory (+3.5 points).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from engram.models import MemoryRecord
from engram.storage.base import Query, Store, Vector

DENSE_WEIGHT = 0.75
KEYWORD_WEIGHT = 0.25
MIN_POOL = 100  # candidates drawn from each side before fusion (50 measured 2 points worse)
NEIGHBOUR_TURNS = 2  # turns each side whose words are keyword-indexed with a verbatim turn

# English function and question words, dropped from the keyword query only.
QUERY_STOPWORDS = frozenset(
    """a an the of to in on at for and or is are was were be been being am did do does doing done what
    when where who whom whose which how why that this these those with from by as it its his her hers
    their theirs they them he she him i you we my your our me us has have had having about any ever""".split()  # noqa: SIM905
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Hit:
    record: MemoryRecord
    score: float
    dense: float
    keyword: float


def fuse(dense: list[tuple[MemoryRecord, float]], keyword: list[tuple[MemoryRecord, float]]) -> list[Hit]:
    """Combine both rankings; a memory missing from the dense side gets the lowest dense score seen."""
    dense_floor = min((score for _, score in dense), default=0.0)
    best_keyword = max((score for _, score in keyword), default=0.0)
    records: dict[str, MemoryRecord] = {}
    dense_scores: dict[str, float] = {}
    keyword_scores: dict[str, float] = {}
    for record, score in dense:
        records[record.id] = record
        dense_scores[record.id] = score
    for record, score in keyword:
        records.setdefault(record.id, record)
        keyword_scores[record.id] = score / best_keyword if best_keyword > 0 else 0.0
    hits = []
    for memory_id, record in records.items():
        d = dense_scores.get(memory_id, dense_floor)
        k = keyword_scores.get(memory_id, 0.0)
        hits.append(Hit(record, DENSE_WEIGHT * d + KEYWORD_WEIGHT * k, d, k))
    hits.sort(key=lambda hit: (-hit.score, hit.record.id))
    return hits


def hybrid_search(
    store: Store,
    scope_query: Query,
    text: str,
    vector: Vector,
    *,
    limit: int,
    threshold: float | None = None,
) -> list[Hit]:
    pool = max(MIN_POOL, limit * 3)
    hits = fuse(
        store.vector_search(scope_query, vector, pool),
        store.keyword_search(scope_query, keyword_query(text), pool),
    )
    if threshold is not None:
        hits = [hit for hit in hits if hit.score >= threshold]
    return hits[:limit]


def date_words(moment: datetime) -> str:
    """How a date is written into the indexed text, so "May 2023" and "2023-05-08" both match."""
    return f"{moment.date().isoformat()} {moment.day} {moment:%B %Y %A}"


def keyword_query(text: str) -> str:
    """The words of a query worth matching by keyword; the whole query when all are function words."""
    words = [word for word in _WORD.findall(text) if word.lower() not in QUERY_STOPWORDS]
    return " ".join(words) if words else text


def embed_text(record: MemoryRecord) -> str:
    """What is embedded for a memory: its own text."""
    return record.memory


def keyword_text(record: MemoryRecord, neighbours: Sequence[str] = ()) -> str:
    """What is keyword-indexed for a memory: its text (twice, so it outweighs the context), the
    neighbouring turns of the conversation it was stored from, and its date."""
    return "\n".join([record.memory, record.memory, *neighbours]) + f" ({date_words(record.created_at)})"


def neighbours(texts: Sequence[str], index: int, span: int = NEIGHBOUR_TURNS) -> list[str]:
    """The ``span`` texts before and after ``texts[index]``."""
    return [*texts[max(0, index - span) : index], *texts[index + 1 : index + 1 + span]]
