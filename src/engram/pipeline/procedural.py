"""``add(memory_type="procedural_memory")``: an agent's execution log becomes one summary memory."""

from __future__ import annotations

from dataclasses import replace

from engram.errors import ValidationError
from engram.messages import Message
from engram.pipeline.parsing import parse_json_answer
from engram.pipeline.plan import Context, Draft, WritePlan
from engram.pipeline.prompts import PROCEDURAL_SUMMARY_PROMPT, PROCEDURAL_SUMMARY_SCHEMA
from engram.pipeline.screen import ModelScreen
from engram.search import embed_text
from engram.validation import storable

PROCEDURAL_MEMORY = "procedural_memory"
MAX_SUMMARY_CHARS = 20_000  # a summary of an execution log; a chat session is ~20,000 characters


def plan_procedural(ctx: Context, turns: list[Message], draft: Draft, custom_prompt: str | None) -> WritePlan:
    """One LLM call summarises the log; the summary is stored with ``metadata.memory_type``."""
    if draft.scope.agent_id is None:
        raise ValidationError("procedural memory belongs to an agent: pass agent_id")
    log = "\n".join(turn.as_line() for turn in turns if turn.content)
    completion = ctx.require_llm().complete(
        [
            {"role": "system", "content": custom_prompt or PROCEDURAL_SUMMARY_PROMPT},
            {"role": "user", "content": log},
        ],
        json_schema=PROCEDURAL_SUMMARY_SCHEMA,
    )
    answer = parse_json_answer(completion.text)
    summary = answer.get("summary") if isinstance(answer, dict) else None
    if not isinstance(summary, str) or not summary.strip():
        # A plain-text summary is still a summary; an answer whose "summary" is empty has none.
        summary = "" if isinstance(answer, dict) and "summary" in answer else completion.text.strip()
    if not summary:  # the model's failure, not the caller's: say so, store nothing
        plan = WritePlan(warnings=["the LLM returned an empty summary of the execution log: nothing was stored"])
        plan.usage = completion.usage.tagged("procedural")
        return plan
    summary, warnings = storable_summary(summary)
    screening = ModelScreen(ctx.config.privacy)
    screened = screening.text(summary, "the summary")
    plan = WritePlan(redactions=screening.redactions, warnings=[*warnings, *screening.warnings])
    plan.usage = completion.usage.tagged("procedural")
    if screened is not None:
        metadata = {**draft.metadata, "memory_type": PROCEDURAL_MEMORY}
        record = replace(draft.record(screened, role=None, sources=turns), metadata=metadata)
        plan.inserts = [(record, ctx.embed([embed_text(record)])[0])]
    return plan


def storable_summary(summary: str) -> tuple[str, list[str]]:
    """The summary as every store can hold it, at most ``MAX_SUMMARY_CHARS`` long (an add refuses more
    than ``MAX_ADD_CHARS`` of input; a model's summary must not become a memory larger than that)."""
    warnings = []
    if not storable(summary):
        summary = summary.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
        warnings.append("the summary held text no store can hold (a NUL or a lone surrogate): replaced")
    if len(summary) > MAX_SUMMARY_CHARS:
        summary = summary[:MAX_SUMMARY_CHARS]
        warnings.append(f"the summary was longer than {MAX_SUMMARY_CHARS:,} characters: cut there")
    return summary, warnings


__all__ = ["PROCEDURAL_MEMORY", "plan_procedural"]
