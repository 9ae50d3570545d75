"""Search: dense and keyword candidates from the store, fused into one score.

The score of a memory is ``DENSE_WEIGHT * cosine + KEYWORD_WEIGHT * keyword``,
where ``keyword`` is its BM25 score divided by the best BM25 score of the
query (so the best keyword match counts 1). Both parts lie in [0, 1] for
related text, so ``threshold`` means the same thing from query to query
(the speaker boost below can lift a score a little above 1).

What each side indexes (measured on LoCoMo-style conversations, turn-level
Recall@10 over categories 1–4, all-MiniLM-L6-v2; bench/bench_recall.py):

- the vector embeds the memory's own text (``embed_text``), leaning a quarter
  of the way towards the previous turn's vector when it was stored verbatim
  from a conversation (``with_previous_turn``, +0.6 points); embedding the
  date or the neighbours' text with it blurs a short turn's meaning instead;
- the keyword index holds the memory's text twice, the turns around it
  (``NEIGHBOUR_TURNS`` each side, when it was stored verbatim from a
  conversation) and its date (``keyword_text``). A turn like "Yes, every
  Sunday!" is then found by the words of the question it answers, while its
  own words still weigh most (+9 points);
- a memory whose speaker (the ``name`` of the message it was stored from,
  kept as its actor) is named in the query gets ``SPEAKER_BOOST``: asked
  "what did Ana paint?", what Ana said comes first (+1.4 points);
- the keyword query leaves out function words (the store's ``fts_query``):
  with OR semantics they otherwise match nearly every memory (+3.5 points).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from engram.embedders.base import normalise_rows
from engram.models import MemoryRecord
from engram.storage.base import Query, Store, Vector

DENSE_WEIGHT = 0.6  # 0.75 measured 1.5 points worse once keyword entries carried their context
KEYWORD_WEIGHT = 0.4
SPEAKER_BOOST = 0.1  # added when the query names the memory's speaker
PREVIOUS_TURN_WEIGHT = 0.25  # how far a verbatim turn's vector leans towards the turn before it
NEIGHBOUR_TURNS = 2  # turns each side whose words are keyword-indexed with a verbatim turn
# Pool sizes trade recall for latency (100k memories, 1,000 users, scoped p50 without embedding):
# 100/30 gives Recall@10 0.803 at ~1.5 ms; 50/20 gives 0.801 at ~1.2 ms; 20/10 gives 0.791 at ~0.95 ms.
MIN_POOL = 100  # candidates drawn from each side before fusion
SPEAKER_POOL = 30  # leading candidates read from the store, which the speaker boost may reorder
_WORD = re.compile(r"\w+")


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
    # Only the leading candidates are read from the store: enough to apply the speaker boost.
    head = ranked[: max(limit, SPEAKER_POOL)]
    records = store.get_memories([r.memory_id for r in head], as_of=scope_query.as_of)
    named = {word.lower() for word in _WORD.findall(text)}
    hits = [
        Hit(records[r.memory_id], r.score + speaker_boost(records[r.memory_id], named))
        for r in head
        if r.memory_id in records
    ]
    hits.sort(key=lambda hit: (-hit.score, hit.record.id))
    if threshold is not None:
        hits = [hit for hit in hits if hit.score >= threshold]
    return hits[:limit]


def speaker_boost(record: MemoryRecord, query_words: set[str]) -> float:
    """``SPEAKER_BOOST`` when the query names the memory's speaker (its actor): asked "what did
    Ana paint?", what Ana said comes before what others said about painting."""
    actor = record.actor_id
    return SPEAKER_BOOST if actor and actor.lower() in query_words else 0.0


def date_words(moment: datetime) -> str:
    """How a date is written into the indexed text, so "May 2023" and "2023-05-08" both match."""
    return f"{moment.date().isoformat()} {moment.day} {moment:%B %Y %A}"


def embed_text(record: MemoryRecord) -> str:
    """What is embedded for a memory: its own text."""
    return record.memory


def keyword_text(record: MemoryRecord, neighbours: Sequence[str] = ()) -> str:
    """What is keyword-indexed for a memory: its text (twice, so that it outweighs the context), the
    neighbouring turns of the conversation it was stored from, and its date."""
    return "\n".join([record.memory, record.memory, *neighbours]) + f" ({date_words(record.created_at)})"


def with_previous_turn(vector: Vector, previous: Vector | None) -> Vector:
    """A turn's vector nudged towards the previous turn's: the answer to a question shares little
    wording with it, but follows it."""
    if previous is None:
        return vector
    return normalise_rows(vector + PREVIOUS_TURN_WEIGHT * previous).reshape(-1)


def neighbours(texts: Sequence[str], index: int, span: int = NEIGHBOUR_TURNS) -> list[str]:
    """The ``span`` texts before and after ``texts[index]``."""
    return [*texts[max(0, index - span) : index], *texts[index + 1 : index + 1 + span]]
