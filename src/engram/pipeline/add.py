"""``add``: which planner reads the messages, then the graph's draft; ``write.write_add`` writes it all.

- ``infer=False``: ``verbatim.plan_verbatim`` (each message as it was said);
- ``infer=True``: ``inferred.plan_inferred`` (the LLM as memory manager, step by step);
- ``memory_type="procedural_memory"``: ``procedural.plan_procedural`` (one summary of an agent's log).
"""

from __future__ import annotations

from engram.errors import ValidationError
from engram.messages import Message
from engram.pipeline.graph_write import draft_add_graph
from engram.pipeline.inferred import plan_inferred
from engram.pipeline.plan import Context, Draft, WritePlan
from engram.pipeline.procedural import PROCEDURAL_MEMORY, plan_procedural
from engram.pipeline.verbatim import plan_verbatim
from engram.privacy.screening import redaction_report
from engram.results import AddResult, ForgottenItem, RelationChanges


def plan_add(
    ctx: Context,
    turns: list[Message],
    draft: Draft,
    *,
    infer: bool,
    memory_type: str | None,
    prompt: str | None,
    standalone: bool,
) -> WritePlan:
    """Everything an add will write, computed before its transaction opens (LLM and embedding calls)."""
    if memory_type not in (None, PROCEDURAL_MEMORY):
        raise ValidationError(f"memory_type must be None or {PROCEDURAL_MEMORY!r}, got {memory_type!r}")
    if memory_type == PROCEDURAL_MEMORY:
        plan = plan_procedural(ctx, turns, draft, prompt)
    elif infer:
        plan = plan_inferred(ctx, turns, draft, prompt)
    else:
        plan = plan_verbatim(ctx, turns, draft, standalone=standalone)
    if ctx.graph is not None and memory_type is None:  # an agent's log summary names no one
        plan.graph = draft_add_graph(ctx, plan, turns, draft)
    return plan


def add_result(plan: WritePlan, relations: RelationChanges | None) -> AddResult:
    """mem0's result of an add, with ``relations`` (graph on), ``redactions``, ``usage`` and ``warnings``
    where there are any."""
    result: AddResult = {"results": plan.results()}
    if relations is not None:
        result["relations"] = relations
    forgotten: list[ForgottenItem] = [{"id": r.id, "memory": r.memory} for r in plan.deletes if r.id in plan.forgotten]
    if forgotten:  # what the user asked to forget, so that an app can show it (and undo it)
        result["forgotten"] = forgotten
    if plan.redactions:  # categories and counts: the values themselves are gone
        result["redactions"] = redaction_report(plan.redactions)
    if plan.usage.calls:
        result["usage"] = plan.usage.as_dict()
    if plan.warnings:
        result["warnings"] = plan.warnings
    return result


__all__ = ["add_result", "plan_add"]
