"""Neighbours, a step of add: the stored memories an add's facts may change, shown to the model.

With one call (the default), the memories near each sentence of the incoming messages are found
before the model reads them, so that it extracts the facts and decides what each does to them in
the same answer. With two calls (a custom prompt), the facts come first and each is compared with
its own nearest memories; a fact may then change only those.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engram.messages import Message
from engram.models import MemoryRecord, utcnow
from engram.pipeline.plan import Context, Draft, Fact
from engram.storage.base import Query

SIMILAR_PER_FACT = 5  # existing memories shown to the LLM for each new fact (two-call path)
SIMILARITY_FLOOR = 0.2  # below this cosine an existing memory is unrelated to a fact
NEIGHBOURS_PER_SENTENCE = 3  # one-call path: memories near each sentence of the messages
NEIGHBOUR_FLOOR = 0.3  # sentence-to-memory cosine below which a memory is not shown
MAX_SHOWN = 12  # memories shown to the LLM in one call

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def neighbours_of(ctx: Context, turns: Sequence[Message], draft: Draft) -> list[MemoryRecord]:
    """The stored memories nearest to what the incoming messages say, best first.

    Each sentence is a query of its own: a message often holds several facts, and a whole
    message is close to none of their memories.
    """
    sentences = list(dict.fromkeys(s for turn in turns for s in sentences_of(turn.content)))
    if not sentences:
        return []
    query = Query(draft.scope.owner_only(), None, utcnow())
    best: dict[str, float] = {}
    for vector in ctx.embedder.embed_batch(sentences, purpose="query"):
        for memory_id, score in ctx.store.vector_search(query, vector, NEIGHBOURS_PER_SENTENCE):
            if score >= NEIGHBOUR_FLOOR and score > best.get(memory_id, -1.0):
                best[memory_id] = score
    ranked = sorted(best, key=lambda memory_id: -best[memory_id])[:MAX_SHOWN]
    records = ctx.store.get_memories(ranked)
    return [records[memory_id] for memory_id in ranked if memory_id in records]


def similar_memories(ctx: Context, facts: Sequence[Fact], draft: Draft) -> tuple[list[MemoryRecord], list[set[int]]]:
    """The existing memories closest to any fact, each once, in order of first appearance,
    and for each fact the positions of its own neighbours among them."""
    query = Query(draft.scope.owner_only(), None, utcnow())
    vectors = ctx.embedder.embed_batch([fact.text for fact in facts], purpose="query")
    per_fact = [
        [
            memory_id
            for memory_id, score in ctx.store.vector_search(query, vector, SIMILAR_PER_FACT)
            if score >= SIMILARITY_FLOOR
        ]
        for vector in vectors
    ]
    similar = list(dict.fromkeys(memory_id for ids in per_fact for memory_id in ids))
    records = ctx.store.get_memories(similar)
    shown = [records[memory_id] for memory_id in similar if memory_id in records]
    position = {record.id: i for i, record in enumerate(shown)}
    return shown, [{position[m] for m in ids if m in position} for ids in per_fact]


def sentences_of(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(text) if len(part.strip()) > 2]


__all__ = ["MAX_SHOWN", "neighbours_of", "sentences_of", "similar_memories"]
