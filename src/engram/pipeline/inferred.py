"""``add(infer=True)``: the LLM as memory manager, one named step after another.

    describe images → (neighbours) → extract → verify sources → screen facts → drop instructed facts
    → forget → dedupe → decide → screen texts → guard → protect trusted memories → plan the writes
    → keep what no fact covers → retract what was forgotten

Each step is a function of its own module taking the add's ``Context``; none calls back into
``Memory``. The write itself (one transaction) is ``write.write_add``.
"""

from __future__ import annotations

from engram.messages import Message
from engram.pipeline.coverage import uncovered
from engram.pipeline.decide import decide
from engram.pipeline.dedupe import fresh_facts, plan_adds
from engram.pipeline.extract import extract, uses_two_calls
from engram.pipeline.forget import Forgetting, find_forgotten, retract
from engram.pipeline.guards import drop_unsaid
from engram.pipeline.images import describe_images
from engram.pipeline.neighbours import neighbours_of
from engram.pipeline.plan import Context, Draft, WritePlan
from engram.pipeline.screen import ModelScreen
from engram.pipeline.sources import verify_sources
from engram.pipeline.trust import drop_instructed, protect_trusted
from engram.pipeline.write import plan_changes


def plan_inferred(ctx: Context, turns: list[Message], draft: Draft, custom_prompt: str | None) -> WritePlan:
    """What an add with an LLM will write: the facts the model found, decided against the stored
    memories and checked in code (``decide.plan_actions``, ``guards``, ``trust``) before they become the plan."""
    llm = ctx.require_llm()
    described = describe_images(llm, turns, ctx.config.privacy)
    spoken = [turn for turn in described.turns if turn.content]  # fact sources index into this list
    two_calls = uses_two_calls(ctx, custom_prompt)
    shown = [] if two_calls else neighbours_of(ctx, spoken, draft)
    extraction = extract(ctx, llm, spoken, draft, shown, custom_prompt)
    screening = ModelScreen(ctx.config.privacy, dict(described.redactions))
    facts, decisions = screening.facts(verify_sources(extraction.facts, spoken), extraction.decisions)
    facts, decisions, instructed = drop_instructed(ctx.config.trust, facts, decisions, spoken)
    forgetting = find_forgotten(ctx, spoken, extraction.forget, facts, draft, shown)
    fresh = fresh_facts(ctx, facts, decisions, forgetting.keep, draft.scope)
    decided = decide(ctx, llm, fresh.facts, fresh.decisions, shown, draft, two_calls=two_calls)
    actions, unsaid = drop_unsaid(screening.actions(decided.actions))
    actions, kept_apart = protect_trusted(ctx.config.trust, actions, spoken)
    plan = WritePlan(unchanged=fresh.known, extracted_graph=extraction.graph, redactions=screening.redactions)
    plan.usage = described.usage + extraction.usage + decided.usage
    plan.warnings = [
        *described.warnings,
        *extraction.warnings,
        *screening.warnings,
        *instructed,
        *forgetting.warnings,
        *decided.warnings,
        *unsaid,
        *kept_apart,
    ]
    plan_changes(ctx, plan, actions, spoken, draft)
    if ctx.config.keep_uncovered:
        keep_uncovered(ctx, plan, uncovered(ctx.embedder, spoken, facts), forgetting, draft)
    retract(plan, forgetting.targets)
    return plan


def keep_uncovered(
    ctx: Context, plan: WritePlan, sentences: list[tuple[Message, str]], forgetting: Forgetting, draft: Draft
) -> None:
    """Each user sentence no fact covers becomes a memory as it was said, unless the user asked to
    forget what it says."""
    allowed = forgetting.allows(ctx, [sentence for _, sentence in sentences])
    records = [
        draft.record(sentence, role=turn.role, sources=[turn], speaker=turn.name)
        for (turn, sentence), ok in zip(sentences, allowed, strict=True)
        if ok
    ]
    kept = plan_adds(ctx, records, draft.scope)
    plan.inserts += kept.inserts
    plan.unchanged += kept.unchanged


__all__ = ["plan_inferred"]
