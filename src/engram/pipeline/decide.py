"""Decide, a step of add: ADD, UPDATE, DELETE or NONE for each new fact.

The LLM sees existing memories under small ids ("0", "1", ...), never real
ones, so a hallucinated id cannot reach a real memory. Its answer is checked
in code before anything is applied:

- an id that was not shown: UPDATE becomes ADD, DELETE becomes NONE;
- an id of a memory off the fact's subject (``pipeline.guards``; with two calls, also one not
  found near the fact): the same (small models otherwise overwrite unrelated memories);
- an UPDATE that leaves the text unchanged is NONE;
- a second decision on a memory already changed in this batch becomes ADD (or NONE for DELETE);
- a fact with no readable decision is left alone (NONE), with a warning.

``plan_actions`` does no I/O: it is a pure function of the facts, the memories shown, and the
answer. ``decide`` runs the step: with one call the decisions came with the facts; with two, it
asks the model, showing each fact's nearest memories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engram.llms.base import LLM, ChatMessage, Usage
from engram.models import Event, MemoryRecord, memory_hash
from engram.pipeline.guards import same_subject
from engram.pipeline.neighbours import similar_memories
from engram.pipeline.parsing import parse_json_answer
from engram.pipeline.plan import Action, Context, Draft, Fact
from engram.pipeline.prompts import RECONCILE_PROMPT, RECONCILE_SCHEMA
from engram.pipeline.slots import attribute_index
from engram.pipeline.supersede import same_slot, supersede


@dataclass
class Decided:
    """What the decide step made of the facts: one action each at most."""

    actions: list[Action]
    usage: Usage = field(default_factory=Usage)
    warnings: list[str] = field(default_factory=list)


def decide(
    ctx: Context,
    llm: LLM,
    facts: list[Fact],
    decisions: Sequence[dict[str, Any] | None],
    shown: list[MemoryRecord],
    draft: Draft,
    *,
    two_calls: bool,
) -> Decided:
    """The actions of the new facts. ``decisions`` came with them (one call, against ``shown``);
    with two calls they are asked for here, against each fact's nearest memories."""
    if not facts:
        return Decided([])
    if two_calls:
        return _decide_in_a_call(ctx, llm, facts, draft)
    # In one call, a fact the model gave no decision is new information: an ADD. With nothing shown,
    # an UPDATE or DELETE names no memory: ``supersede`` finds the one about the same thing.
    answer = {"decisions": [{**(decision or {"event": "ADD"}), "fact": i} for i, decision in enumerate(decisions)]}
    index, names = attribute_index(ctx.embedder), _self_names(draft)
    # A memory on the fact's subject may be changed: close in meaning, or about its subject and attribute.
    on_subject = same_subject(ctx.embedder, facts, shown)
    allowed = [a | b for a, b in zip(on_subject, same_slot(index, facts, shown, names), strict=True)]
    actions, warnings = plan_actions(facts, shown, answer, allowed)
    nearest, _ = similar_memories(ctx, facts, draft)
    candidates = list({r.id: r for r in [*shown, *nearest]}.values())
    resolved = supersede(index, actions, candidates, names)
    # A change the model asked for that found its memory after all landed: it is no longer news.
    landed = [repr(a.fact.text) for a, b in zip(actions, resolved, strict=True) if a != b and a.asked and a.fact]
    warnings = [w for w in warnings if not any(text in w for text in landed)]
    return Decided(resolved, Usage(), warnings)


def _self_names(draft: Draft) -> list[str]:
    """Who "User" is in this add's facts: the scope's user."""
    return [draft.scope.user_id] if draft.scope.user_id else []


def _decide_in_a_call(ctx: Context, llm: LLM, facts: list[Fact], draft: Draft) -> Decided:
    """Two calls: show the model each fact's nearest memories; a fact may change only those."""
    shown, near = similar_memories(ctx, facts, draft)
    if not shown:
        return Decided([Action(Event.ADD, fact, fact.text) for fact in facts])
    messages = reconcile_messages(facts, shown, ctx.config.custom_update_memory_prompt)
    completion = llm.complete(messages, json_schema=RECONCILE_SCHEMA)
    allowed = [a & n for a, n in zip(same_subject(ctx.embedder, facts, shown), near, strict=True)]
    actions, warnings = plan_actions(facts, shown, parse_json_answer(completion.text), allowed)
    return Decided(actions, completion.usage.tagged("reconcile"), warnings)


def reconcile_messages(
    facts: list[Fact], shown: list[MemoryRecord], custom_prompt: str | None = None
) -> list[ChatMessage]:
    existing = "\n".join(f'- id "{i}": {record.memory}' for i, record in enumerate(shown))
    new = "\n".join(f"- fact {i}: {fact.text}" for i, fact in enumerate(facts))
    return [
        {"role": "system", "content": custom_prompt or RECONCILE_PROMPT},
        {"role": "user", "content": f"EXISTING MEMORIES:\n{existing}\n\nNEW FACTS:\n{new}"},
    ]


def plan_actions(
    facts: list[Fact],
    shown: list[MemoryRecord],
    answer: Any,
    neighbours: Sequence[set[int]] | None = None,
) -> tuple[list[Action], list[str]]:
    """Turn the LLM's decisions into safe actions, one per fact at most.

    ``neighbours[i]`` holds the positions in ``shown`` of the memories found similar to fact
    ``i``; only those may be updated or deleted because of it. ``None`` allows any shown memory.
    """
    warnings: list[str] = []
    decisions = _decisions(answer)
    if decisions is None:
        return [Action(Event.NONE, fact) for fact in facts], [
            "reconcile: the LLM's answer was unreadable; no memory was changed"
        ]
    by_fact: dict[int, dict[str, Any]] = {}  # the first decision for a fact wins
    for decision in decisions:
        index = _fact_index(decision, facts)
        if index is None:
            warnings.append(f"reconcile: ignored a decision for no listed fact: {decision!r}")
        elif index not in by_fact:
            by_fact[index] = decision

    actions: list[Action] = []
    touched: set[str] = set()
    for index, fact in enumerate(facts):
        if index not in by_fact:
            warnings.append(f"reconcile: no decision for fact {fact.text!r}; left unchanged")
            actions.append(Action(Event.NONE, fact))
            continue
        allowed = neighbours[index] if neighbours is not None else set(range(len(shown)))
        action, warning = _checked_action(fact, by_fact[index], shown, allowed, touched)
        if warning:
            warnings.append(warning)
        if action.target is not None and action.event in (Event.UPDATE, Event.DELETE):
            touched.add(action.target.id)
        actions.append(action)
    return actions, warnings


def _decisions(answer: Any) -> list[dict[str, Any]] | None:
    if isinstance(answer, dict):
        answer = answer.get("decisions", answer.get("memory"))
    if not isinstance(answer, list):
        return None
    return [item for item in answer if isinstance(item, dict)]


def _fact_index(decision: dict[str, Any], facts: list[Fact]) -> int | None:
    return small_index(decision.get("fact"), len(facts))


def _checked_action(
    fact: Fact, decision: dict[str, Any], shown: list[MemoryRecord], allowed: set[int], touched: set[str]
) -> tuple[Action, str | None]:
    event = str(decision.get("event", "")).strip().upper()
    given = decision.get("text")
    text = " ".join(given.split()) if isinstance(given, str) and given.strip() else fact.text
    raw_id = decision.get("memory_id", decision.get("id"))
    position = _shown_position(raw_id, len(shown))
    target = shown[position] if position is not None and position in allowed else None

    if event == "ADD":
        return Action(Event.ADD, fact, text), None
    if event == "NONE":
        return Action(Event.NONE, fact, target=target), None
    if event == "UPDATE":
        if target is None:
            what = (
                f"of {shown[position].memory!r}, off the fact's subject" if position is not None else "of an unknown id"
            )
            # An id that names nothing shown is a guess (small models copy the example's): no sign of
            # a change. No id at all is one: the model saw no memory to name, and engram finds it.
            asked = Event.UPDATE if position is not None or raw_id is None else None
            return Action(Event.ADD, fact, text, asked=asked), f"reconcile: UPDATE {what}; {fact.text!r} added"
        if target.id in touched:
            warning = f"reconcile: memory changed twice; {fact.text!r} was added"
            return Action(Event.ADD, fact, text, asked=Event.UPDATE), warning
        if memory_hash(text) == target.hash:
            return Action(Event.NONE, fact, target=target), None
        return Action(Event.UPDATE, fact, text, target), None
    if event == "DELETE":
        if target is None or target.id in touched:
            what = repr(shown[position].memory) if position is not None else "an unknown id"
            warning = f"reconcile: DELETE of {what} (unknown, off-subject or changed) for {fact.text!r} was ignored"
            asked = Event.DELETE if position is not None or raw_id is None else None
            return Action(Event.NONE, fact, asked=asked), warning
        return Action(Event.DELETE, fact, target=target), None
    return Action(Event.NONE, fact), f"reconcile: unknown event {event!r} for {fact.text!r}; left unchanged"


def _shown_position(raw_id: Any, count: int) -> int | None:
    return small_index(raw_id, count)


def small_index(raw: Any, count: int) -> int | None:
    """A number from 0 to ``count - 1`` as the model wrote it (an integer, or its ASCII digits), else
    None: "²" is a digit to ``str.isdigit`` but not to ``int``, and a 5,000-digit number is no index."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if 0 <= raw < count else None
    if isinstance(raw, str) and 0 < len(raw.strip()) <= 6 and raw.strip().isascii() and raw.strip().isdigit():
        return small_index(int(raw.strip()), count)
    return None
