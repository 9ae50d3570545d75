"""Supersede, part of the decide step: a change lands even when the model says ADD or names no target.

A new fact about the same subject and attribute as a current memory (``slots.py``) replaces it:

- when the model said UPDATE or DELETE but named no memory, or one that was not shown, the current
  memory about the same subject and attribute is the target (the model judged it a change; only
  the id was missing);
- when the model said ADD and the attribute holds one value at a time (where someone lives or works,
  a status, a date that moved), the memory it replaces is superseded all the same: two current
  home cities is a contradiction, whatever the model called it.

A memory is changed at most once per add, and one whose text is the new fact's is left alone (NONE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from engram.models import Event, MemoryRecord, memory_hash
from engram.pipeline.plan import Action, Fact
from engram.pipeline.slots import AttributeIndex, same_subject


def same_slot(
    index: AttributeIndex, facts: Sequence[Fact], records: Sequence[MemoryRecord], self_names: Sequence[str]
) -> list[set[int]]:
    """For each fact, the positions of the records about its subject and attribute."""
    return [
        {
            j
            for j, record in enumerate(records)
            if fact.attribute
            and record.attribute
            and same_subject(fact.subject, record.subject, self_names)
            and index.same(fact.attribute, record.attribute)
        }
        for fact in facts
    ]


def supersede(
    index: AttributeIndex, actions: Sequence[Action], candidates: Sequence[MemoryRecord], self_names: Sequence[str]
) -> list[Action]:
    """The actions, with each ADD (or target-less UPDATE / DELETE) that replaces a current memory about
    the same subject and attribute turned into the UPDATE (or DELETE) of that memory."""
    live = [record for record in candidates if record.invalid_at is None]
    touched = {a.target.id for a in actions if a.target is not None and a.event in (Event.UPDATE, Event.DELETE)}
    resolved: list[Action] = []
    for action in actions:
        target = _replaced(index, action, live, touched, self_names)
        if target is None:
            resolved.append(action)
            continue
        touched.add(target.id)
        if action.asked == Event.DELETE:
            resolved.append(replace(action, event=Event.DELETE, target=target))
        elif memory_hash(action.text or "") == target.hash:
            resolved.append(replace(action, event=Event.NONE, target=target))
        else:
            resolved.append(replace(action, event=Event.UPDATE, target=target))
    return resolved


def _replaced(
    index: AttributeIndex,
    action: Action,
    live: Sequence[MemoryRecord],
    touched: set[str],
    self_names: Sequence[str],
) -> MemoryRecord | None:
    """The current memory ``action`` replaces, if it should replace one."""
    fact = action.fact
    if fact is None or not fact.attribute:
        return None
    model_asked_a_change = action.asked in (Event.UPDATE, Event.DELETE)
    if action.event == Event.ADD:
        if not model_asked_a_change and not index.holds_one_value(fact.attribute):
            return None  # a hobby, a visit, a friend: a new one goes beside the others
    elif not (action.event == Event.NONE and action.asked == Event.DELETE):
        return None
    same = [
        record
        for record in live
        if record.id not in touched
        and record.attribute
        and same_subject(fact.subject, record.subject, self_names)
        and index.same(fact.attribute, record.attribute)
    ]
    if not same:
        return None
    # The closest attribute, then the newest: the memory that holds the value now.
    return max(
        same, key=lambda r: (index.similarity(fact.attribute or "", r.attribute or ""), r.valid_from or r.created_at)
    )


__all__ = ["same_slot", "supersede"]
