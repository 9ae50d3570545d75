"""Dedupe, a step of add: a fact or message whose exact text the scope already holds is not stored
again. It is a NONE, and needs no decision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engram.models import MemoryRecord, Scope, memory_hash
from engram.pipeline.plan import Context, Fact, WritePlan
from engram.search import embed_text, with_previous_turn


@dataclass
class Fresh:
    """The facts of an add that are new to the scope, with their decisions, and the memories
    that already hold the others."""

    facts: list[Fact]
    decisions: list[dict[str, Any] | None]
    known: list[MemoryRecord]


def fresh_facts(
    ctx: Context,
    facts: Sequence[Fact],
    decisions: Sequence[dict[str, Any] | None],
    keep: Sequence[bool],
    scope: Scope,
) -> Fresh:
    """The facts to decide on: not already stored word for word, and not asked to be forgotten (``keep``)."""
    decisions = list(decisions) or [None] * len(facts)
    hashes = [memory_hash(fact.text) for fact in facts]
    known = ctx.store.find_by_hash(scope.owner_only(), hashes)
    new = [i for i, h in enumerate(hashes) if h not in known and keep[i]]
    stored = [known[h] for h in dict.fromkeys(hashes) if h in known]
    return Fresh([facts[i] for i in new], [decisions[i] for i in new], stored)


def plan_adds(
    ctx: Context, records: list[MemoryRecord], scope: Scope, previous: Sequence[str | None] | None = None
) -> WritePlan:
    """New memories, minus those whose text the scope (or this batch) already holds.

    ``previous`` (aligned with ``records``) is the conversation turn before each record's: its
    vector then leans towards that turn's (``search.with_previous_turn``).
    """
    plan = WritePlan()
    known = ctx.store.find_by_hash(scope.owner_only(), [r.hash for r in records])
    fresh: dict[str, tuple[MemoryRecord, str | None]] = {}
    for index, record in enumerate(records):
        if record.hash in known:
            plan.unchanged.append(known[record.hash])
        elif record.hash not in fresh:
            fresh[record.hash] = (record, previous[index] if previous else None)
    # One embedding call for the new texts and the turns before them (mostly the same texts).
    wanted = [embed_text(r) for r, _ in fresh.values()] + [p for _, p in fresh.values() if p]
    texts = list(dict.fromkeys(wanted))
    embedded = dict(zip(texts, ctx.embed(texts), strict=True)) if texts else {}
    plan.inserts = [
        (record, with_previous_turn(embedded[embed_text(record)], embedded[before] if before else None))
        for record, before in fresh.values()
    ]
    return plan


__all__ = ["Fresh", "fresh_facts", "plan_adds"]
