"""``add(infer=True)``: the LLM as memory manager, one named step after another.

    describe images → (neighbours) → extract → verify sources → forget → dedupe → decide → guard
    → plan the writes → retract what was forgotten

Each step is a function of its own module taking the add's ``Context``; none calls back into
``Memory``. The write itself (one transaction) is ``write.write_add``.
"""

from __future__ import annotations

from engram.messages import Message
from engram.pipeline.decide import decide
from engram.pipeline.dedupe import fresh_facts
from engram.pipeline.extract import extract, uses_two_calls
from engram.pipeline.forget import find_forgotten, retract
from engram.pipeline.guards import drop_unsaid
from engram.pipeline.images import describe_images
from engram.pipeline.neighbours import neighbours_of
from engram.pipeline.plan import Context, Draft, WritePlan
from engram.pipeline.sources import verify_sources
from engram.pipeline.write import plan_changes


def plan_inferred(ctx: Context, turns: list[Message], draft: Draft, custom_prompt: str | None) -> WritePlan:
    """What an add with an LLM will write: the facts the model found, decided against the stored
    memories and checked in code (``decide.plan_actions``, ``guards``) before they become the plan."""
    llm = ctx.require_llm()
    turns, usage, warnings = describe_images(llm, turns)
    spoken = [turn for turn in turns if turn.content]  # fact sources index into this list
    two_calls = uses_two_calls(ctx, custom_prompt)
    shown = [] if two_calls else neighbours_of(ctx, spoken, draft)
    extraction = extract(ctx, llm, spoken, draft, shown, custom_prompt)
    facts = verify_sources(extraction.facts, spoken)
    forgetting = find_forgotten(ctx, spoken, extraction.forget, facts, draft)
    fresh = fresh_facts(ctx, facts, extraction.decisions, forgetting.keep, draft.scope)
    decided = decide(ctx, llm, fresh.facts, fresh.decisions, shown, draft, two_calls=two_calls)
    actions, unsaid = drop_unsaid(decided.actions)
    plan = WritePlan(unchanged=fresh.known, extracted_graph=extraction.graph)
    plan.usage = usage + extraction.usage + decided.usage
    plan.warnings = [*warnings, *extraction.warnings, *forgetting.warnings, *decided.warnings, *unsaid]
    plan_changes(ctx, plan, actions, spoken, draft)
    retract(plan, forgetting.targets)
    return plan


__all__ = ["plan_inferred"]
