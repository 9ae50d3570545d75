"""Search: ranked candidate lists from the store (and other signals), fused, then boosted.

``hybrid_search`` asks the store for the ``MIN_POOL`` best memories by cosine (``"vector"``) and
by BM25 (``"keyword"``); another signal (a graph's entity links) may add its own ranked list.
``fuse`` scores each memory by the weighted sum of its normalised score in each list (named
weights, ``Weights.lists``): the cosine as it is, every other list divided by its best score, so
the best keyword match counts 1. The first ``HEAD`` memories are read in full and boosted
(``boost_strengths`` / ``rank_candidates``): the query names the memory's speaker, or a date the
memory falls on. ``threshold`` applies to that final score, which stays in [0, 1] for related text
(the boosts can lift it a little above 1). ``explain=True`` returns every part.

Weights are tuned by leave-one-conversation-out cross-validation (bench/bench_recall.py --cv);
docs/retrieval.md has the measured table. What each side indexes (LoCoMo-style conversations,
turn-level Recall@10 over categories 1–4, all-MiniLM-L6-v2):

- the vector embeds the memory's own text (``embed_text``), leaning a quarter
  of the way towards the previous turn's vector when it was stored verbatim
  from a conversation (``with_previous_turn``, +0.6 points); embedding the
  date or the neighbours' text with it blurs a short turn's meaning instead;
- the keyword index holds the memory's text twice, the turns around it
  (``NEIGHBOUR_TURNS`` each side, when it was stored verbatim from a
  conversation) and its date (``keyword_text``). A turn like "Yes, every
  Sunday!" is then found by the words of the question it answers, while its
  own words still weigh most (+9 points). The turns come from the scope's stored
  episodes as well as the call (``conversation_context``), so a chat app adding one
  message per call gets the same index as one add per session (0.706 → 0.806);
- a memory whose speaker (the ``name`` of the message it was stored from,
  kept as its actor) is named in the query gets ``Weights.speaker``: asked
  "what did Ana paint?", what Ana said comes first (+1.4 points);
- a memory dated within the days the query names ("on 8 May, 2023", "in August
  2023") gets ``Weights.dated`` (+0.3 points);
- the keyword query leaves out function words (the store's ``fts_query``):
  with OR semantics they otherwise match nearly every memory (+3.5 points).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import numpy as np

from engram.embedders.base import Embedder, Vectors, normalise_rows
from engram.models import MemoryRecord
from engram.query_dates import query_date_range, within
from engram.results import FoundEpisode
from engram.storage.base import Query, Store, StoredMessage, Vector

# Times the graph's score (engram/graph.py: graph_candidates), when the graph is on. Chosen by
# leave-one-conversation-out CV on locomo-dev with infer=False (bench/bench_graph_cv.py): every fold
# chose 0 among 0, 0.05, 0.1, 0.2, 0.3; 0.1 cost 1.3 points of Recall@10. ``graph_store.config.weight``
# sets another.
GRAPH_WEIGHT = 0.0
# Pool sizes trade recall for latency (100k memories, 1,000 users, scoped p50 without embedding):
# 100/30 gives Recall@10 0.803 at ~1.5 ms; 50/20 gives 0.801 at ~1.2 ms; 20/10 gives 0.791 at ~0.95 ms.
MIN_POOL = 100  # candidates drawn from each side before fusion
HEAD = 30  # leading fused candidates read from the store, which the boosts may reorder
PREVIOUS_TURN_WEIGHT = 0.25  # how far a verbatim turn's vector leans towards the turn before it
NEIGHBOUR_TURNS = 2  # turns each side whose words are keyword-indexed with a verbatim turn
CONVERSATION_GAP = timedelta(hours=1)  # stored turns further apart than this are not one conversation
VECTOR = "vector"  # the ranked list of cosine similarities, kept as they are
KEYWORD = "keyword"  # BM25 scores: this list, like any other not named here, is scaled by its best score
GRAPH = "graph"  # the graph's scores, in [0, 1] already: kept as they are
_WORD = re.compile(r"\w+")

BOOSTS = ("speaker", "session", "dated")  # the Weights fields applied to the head
RankedList = Sequence[tuple[str, float]]
"""Memory ids with a score, best first: what each retrieval signal hands to fusion."""


@dataclass(frozen=True)
class Weights:
    """The named weights of fusion and of the boosts applied to its head.

    ``lists`` weighs each ranked list by name (``"vector"``, ``"keyword"``, and any list another
    signal adds, such as a graph's); a list without a weight counts 0.
    """

    lists: Mapping[str, float] = field(default_factory=lambda: {VECTOR: 0.6, KEYWORD: 0.4})
    speaker: float = 0.1  # added when the query names the memory's speaker
    session: float = 0.0  # times the share of the head's score on the memory's day (session_support)
    dated: float = 0.05  # added when the memory is dated within the range the query names (query_dates)

    def of(self, name: str) -> float:
        return self.lists.get(name, 0.0)


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class Fused:
    memory_id: str
    score: float
    signals: dict[str, float]  # each list's normalised score for this memory


@dataclass(frozen=True)
class Hit:
    record: MemoryRecord
    score: float
    explain: dict[str, float]  # each signal and boost behind the score


def fuse(lists: Mapping[str, RankedList], weights: Weights = DEFAULT_WEIGHTS, limit: int | None = None) -> list[Fused]:
    """Combine ranked lists into one ranking (its first ``limit``): the weighted sum of each list's
    normalised score.

    The vector list keeps its cosines (a memory missing from it gets the lowest cosine seen), the
    graph list its scores; every other list is divided by its best score, so its best match counts
    1. A memory missing from a list other than the vector one counts 0 there. Ties break by id, so
    the ranking is deterministic.
    """
    normalised: dict[str, tuple[dict[str, float], float]] = {}  # name -> (scores, floor)
    for name, ranked in lists.items():
        scores = {memory_id: float(score) for memory_id, score in ranked}
        if name == VECTOR:
            normalised[name] = (scores, min(scores.values(), default=0.0))
        elif name == GRAPH:
            normalised[name] = (scores, 0.0)
        else:
            best = max(scores.values(), default=0.0)
            normalised[name] = ({m: v / best if best > 0 else 0.0 for m, v in scores.items()}, 0.0)
    # Every memory starts from the floors and gains what each list gives it above its floor.
    start = sum(weights.of(name) * floor for name, (_, floor) in normalised.items())
    total: dict[str, float] = {}
    for name, (scores, floor) in normalised.items():
        weight = weights.of(name)
        for memory_id, value in scores.items():
            total[memory_id] = total.get(memory_id, start) + weight * (value - floor)
    best_first = sorted(total.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [
        Fused(m, score, {name: scores.get(m, floor) for name, (scores, floor) in normalised.items()})
        for m, score in best_first
    ]


@dataclass(frozen=True)
class Candidate:
    """A memory of the fused head, read in full, with the strength of each boost (0 to 1)."""

    fused: Fused
    record: MemoryRecord
    boosts: dict[str, float]  # "speaker", "session", "dated": times the Weights field of that name


def boost_strengths(
    head: Sequence[Fused], records: Mapping[str, MemoryRecord], text: str, boosts: Collection[str] = BOOSTS
) -> list[Candidate]:
    """How strongly each boost applies to each memory of the head (those ``records`` holds); boosts
    not in ``boosts`` (their weight is 0) count 0 without being computed."""
    named = {word.lower() for word in _WORD.findall(text)} if "speaker" in boosts else set()
    span = query_date_range(text) if "dated" in boosts else None
    present = [(f, records[f.memory_id]) for f in head if f.memory_id in records]
    if "session" in boosts:
        support = session_support([(record, f.score) for f, record in present])
    else:
        support = dict.fromkeys((record.id for _, record in present), 0.0)
    return [
        Candidate(
            f,
            record,
            {
                "speaker": 1.0 if speaker_named(record, named) else 0.0,
                "session": support[record.id],
                "dated": 1.0 if span and within(record.created_at.date(), span) else 0.0,
            },
        )
        for f, record in present
    ]


def rank_candidates(candidates: Sequence[Candidate], weights: Weights = DEFAULT_WEIGHTS) -> list[Hit]:
    """Fused score plus the weighted boosts, best first; ``explain`` holds every part and the rank."""
    hits = []
    for candidate in candidates:
        boosts = {name: getattr(weights, name) * strength for name, strength in candidate.boosts.items()}
        explain = {**candidate.fused.signals, "fused": candidate.fused.score, **boosts}
        hits.append(Hit(candidate.record, candidate.fused.score + sum(boosts.values()), explain))
    hits.sort(key=lambda hit: (-hit.score, hit.record.id))
    for rank, hit in enumerate(hits, start=1):
        hit.explain["rank"] = rank
    return hits


def apply_boosts(
    head: Sequence[Fused], records: Mapping[str, MemoryRecord], text: str, weights: Weights = DEFAULT_WEIGHTS
) -> list[Hit]:
    """Apply the boosts to the head of a fused ranking (the memories read in full), best first."""
    used = [name for name in BOOSTS if getattr(weights, name)]
    return rank_candidates(boost_strengths(head, records, text, used), weights)


def explained(hit: Hit) -> dict[str, float]:
    """A hit's ``explain`` block as search results show it."""
    return {name: value if isinstance(value, int) else round(float(value), 6) for name, value in hit.explain.items()}


def hybrid_search(
    store: Store,
    scope_query: Query,
    text: str,
    vector: Vector,
    *,
    limit: int,
    threshold: float | None = None,
    weights: Weights | None = None,
    extra_lists: Mapping[str, RankedList] | None = None,
    graph: RankedList = (),
    graph_weight: float = GRAPH_WEIGHT,
    vector_floor: float = 0.0,
) -> list[Hit]:
    """The best ``limit`` memories for a query: vector and keyword candidates (plus ``extra_lists``)
    fused, the head read and boosted, then ``threshold`` and ``limit``.

    ``graph``: the graph's ranking of the scope's memories for this query (scores in [0, 1], kept as
    they are), weighted ``graph_weight``, when the graph is on."""
    weights = weights or DEFAULT_WEIGHTS
    pool = max(MIN_POOL, limit * 2)
    lists = {**gather(store, scope_query, text, vector, pool, vector_floor), **(extra_lists or {})}
    if graph:
        lists[GRAPH] = graph[:pool]
        weights = replace(weights, lists={**weights.lists, GRAPH: graph_weight})
    head = fuse(lists, weights, max(limit, HEAD))
    hits = apply_boosts(head, store.get_memories([f.memory_id for f in head], as_of=scope_query.as_of), text, weights)
    if threshold is not None:
        hits = [hit for hit in hits if hit.score >= threshold]
    return hits[:limit]


def said_beyond(store: Store, scope_query: Query, text: str, found: Collection[str], limit: int) -> list[FoundEpisode]:
    """The ``limit`` episodes of the scope whose words best match ``text``, leaving out those that
    produced a memory in ``found`` (the results already carry what they said), as items with a
    ``score`` (the best match counts 1) and the ``memory_ids`` they produced.

    Facts are what extraction kept; a small model keeps little of a long conversation. The messages
    themselves stay reachable this way, beside the facts rather than mixed into their ranking."""
    # The results' own episodes are skipped, so ask for enough to fill ``limit`` after them.
    matches = store.episode_search(scope_query, text, limit + 2 * len(found))
    produced = store.episode_memories([episode.id for episode, _ in matches])
    beyond = [(e, score) for e, score in matches if not any(m in found for m in produced.get(e.id, ()))][:limit]
    best = max((score for _, score in beyond), default=0.0) or 1.0
    return [
        {**episode.to_dict(), "score": round(score / best, 6), "memory_ids": produced.get(episode.id, [])}
        for episode, score in beyond
    ]


def gather(
    store: Store, scope_query: Query, text: str, vector: Vector, pool: int, vector_floor: float = 0.0
) -> dict[str, RankedList]:
    """The ranked lists the store itself provides. ``vector_floor`` is the cosine of unrelated texts
    for the embedder (``embedders.base.similarity_floor``): cosines are rescaled from it to 1, so that
    an embedder whose scores all sit between 0.7 and 1 (e5) weighs in fusion as one spread over 0 to 1."""
    found = store.vector_search(scope_query, vector, pool)
    if vector_floor > 0:
        found = [(m, max(0.0, (s - vector_floor) / (1 - vector_floor))) for m, s in found]
    return {VECTOR: found, KEYWORD: store.keyword_search(scope_query, text, pool)}


def speaker_named(record: MemoryRecord, query_words: set[str]) -> bool:
    """Whether the query names the memory's speaker (its actor): asked "what did Ana paint?", what
    Ana said comes before what others said about painting."""
    return record.actor_id is not None and record.actor_id.lower() in query_words


def session_support(scored: Sequence[tuple[MemoryRecord, float]]) -> dict[str, float]:
    """For each memory, the share of the head's fused score held by the other memories of its day.

    A day on which several memories match the query is a conversation about it; a memory of that
    day that matches less well by itself is then likelier relevant than a lone match elsewhere.
    """
    per_day: dict[date, float] = {}
    for record, score in scored:
        per_day[record.created_at.date()] = per_day.get(record.created_at.date(), 0.0) + max(score, 0.0)
    total = sum(per_day.values()) or 1.0
    return {record.id: (per_day[record.created_at.date()] - max(score, 0.0)) / total for record, score in scored}


def date_words(moment: datetime) -> str:
    """How a date is written into the indexed text, so "May 2023" and "2023-05-08" both match."""
    return f"{moment.date().isoformat()} {moment.day} {moment:%B %Y %A}"


def about(record: MemoryRecord) -> str | None:
    """What an extracted fact is about, as words a question would use: "User's home city"."""
    if not record.attribute:
        return None
    return f"{record.subject}'s {record.attribute}" if record.subject else record.attribute


def embed_text(record: MemoryRecord) -> str:
    """What is embedded for a memory: its own text, after what it is about when the LLM named that
    ("Hana's employer: Hana left the game studio for Holoflux" is near "Where does Hana work?")."""
    named = about(record)
    text = f"{named}: {record.memory}" if named else record.memory
    return in_the_users_name(text, record.user_id)


def keyword_text(record: MemoryRecord, neighbours: Sequence[str] = ()) -> str:
    """What is keyword-indexed for a memory: its text (twice, so that it outweighs the context), what
    it is about, the neighbouring turns of the conversation it was stored from, and its date."""
    named = about(record)
    parts = [record.memory, record.memory, *([named] if named else []), *neighbours]
    return "\n".join(parts) + f" ({date_words(record.created_at)})"


def in_the_users_name(text: str, user_id: str | None) -> str:
    """A fact's "User" named as the scope's user is ("keiko" or "keiko@example.com" names "Keiko"), for
    its vector: a question about Keiko then meets "User is an accountant…" in meaning. An id that is
    not one or two words ("u-42") names no one."""
    names = [part for part in re.split(r"[^A-Za-z]+", (user_id or "").split("@")[0]) if len(part) > 2]
    if not names or len(names) > 2:
        return text
    return re.sub(r"\bUser\b", " ".join(names).title(), text)


def with_previous_turn(vector: Vector, previous: Vector | None) -> Vector:
    """A turn's vector nudged towards the previous turn's: the answer to a question shares little
    wording with it, but follows it."""
    if previous is None:
        return vector
    return normalise_rows(vector + PREVIOUS_TURN_WEIGHT * previous).reshape(-1)


@dataclass(frozen=True)
class TurnContext:
    """The conversation around the turns of one ``add``, taken from the scope's stored messages as
    well as the call, so that a turn is indexed alike whether its conversation came in one call or
    one message at a time."""

    previous: list[str | None]  # for each new turn, the turn before it
    neighbours: list[list[str]]  # for each new turn, the turns around it
    revisits: list[tuple[StoredMessage, list[str]]]  # earlier turns whose context the new ones extend


def same_conversation(
    earlier: Sequence[StoredMessage], when: datetime, gap: timedelta = CONVERSATION_GAP
) -> list[StoredMessage]:
    """The tail of ``earlier`` (oldest first) that belongs to the conversation going on at ``when``:
    each message at most ``gap`` from the one after it. Turns days apart are not each other's context."""
    kept: list[StoredMessage] = []
    after = when
    for message in reversed(earlier):
        if abs(after - message.created_at) > gap:
            break
        kept.append(message)
        after = message.created_at
    return kept[::-1]


def conversation_context(
    earlier: Sequence[StoredMessage], texts: Sequence[str], span: int = NEIGHBOUR_TURNS
) -> TurnContext:
    """``earlier``: the scope's last stored messages (oldest first; ``2 * span`` of them give the
    revisited turns their full context); ``texts``: the new turns, in order.

    The last ``span`` earlier turns are revisited: the new turns now follow them, so their keyword
    entry is rewritten with the fuller context. The work per add is bounded by ``span``.
    """
    sequence = [m.content for m in earlier] + list(texts)
    first = len(earlier)
    return TurnContext(
        previous=[sequence[i - 1] if i > 0 else None for i in range(first, len(sequence))],
        neighbours=[neighbours(sequence, i, span) for i in range(first, len(sequence))],
        revisits=[(earlier[i], neighbours(sequence, i, span)) for i in range(max(0, first - span), first)]
        if texts
        else [],
    )


def neighbours(texts: Sequence[str], index: int, span: int = NEIGHBOUR_TURNS) -> list[str]:
    """The ``span`` texts before and after ``texts[index]``."""
    return [*texts[max(0, index - span) : index], *texts[index + 1 : index + 1 + span]]


class RecentVectors:
    """The document vectors of the last texts embedded: a turn added alone leans towards the turn
    before it (``with_previous_turn``), which the previous ``add`` has just embedded."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._vectors: OrderedDict[str, Vector] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, embedder: Embedder, texts: list[str]) -> Vectors:
        with self._lock:
            known = {text: self._vectors[text] for text in texts if text in self._vectors}
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing:
            fresh = dict(zip(missing, embedder.embed_batch(missing, purpose="document"), strict=True))
            known |= fresh
            with self._lock:
                self._vectors.update(fresh)
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        return np.stack([known[text] for text in texts]) if texts else embedder.embed_batch([], purpose="document")
