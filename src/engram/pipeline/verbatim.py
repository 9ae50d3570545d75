"""``add(infer=False)``: each message is stored as it was said, with no LLM.

Each turn is keyword-indexed with the turns around it, so that an answer is found by its
question; the turns before come from the scope's stored messages, so that one message per call
is indexed as the same conversation given in one call is (``search.conversation_context``).
"""

from __future__ import annotations

from engram.errors import ValidationError
from engram.messages import Message
from engram.models import MemoryRecord, Scope, memory_hash
from engram.pipeline.dedupe import plan_adds
from engram.pipeline.plan import Context, Draft, WritePlan
from engram.pipeline.trust import drop_instruction_turns
from engram.search import NEIGHBOUR_TURNS, conversation_context, keyword_text, same_conversation
from engram.storage.base import StoredMessage

IMAGES_NOT_STORED = (
    "images were not stored: infer=False keeps the text of messages only; "
    "use infer=True with a vision-capable LLM to remember what they show"
)


def plan_verbatim(ctx: Context, turns: list[Message], draft: Draft, *, standalone: bool = False) -> WritePlan:
    """Each non-system message becomes a memory as it is; a non-user message that reads as an
    instruction to the assistant stays an episode only (``trust.drop_instruction_turns``).

    ``standalone`` (a plain string was added: a note, not a conversation turn) takes no
    context from the messages stored before it.
    """
    said = [turn for turn in turns if turn.role != "system" and turn.content]
    if not said:
        raise ValidationError("there is nothing to store: every message is empty or a system message")
    kept, instructions = drop_instruction_turns(ctx.config.trust, said)
    if not kept:  # every message was an instruction from a non-user source: episodes only
        return WritePlan(warnings=instructions)
    records = [draft.record(turn.content, role=turn.role, sources=[turn], speaker=turn.name) for turn in kept]
    use_stored = ctx.config.recent_messages and not standalone
    earlier = ctx.store.recent_messages(draft.scope, 2 * NEIGHBOUR_TURNS) if use_stored else []
    context = conversation_context(same_conversation(earlier, draft.created_at), [turn.content for turn in kept])
    plan = plan_adds(ctx, records, draft.scope, previous=context.previous)
    plan.keyword_texts = {record.id: keyword_text(record, context.neighbours[i]) for i, record in enumerate(records)}
    plan.reindex = stored_turns(ctx, context.revisits, draft.scope)
    plan.warnings += instructions
    if any(turn.images for turn in turns):
        plan.warnings.append(IMAGES_NOT_STORED)
    return plan


def stored_turns(
    ctx: Context, revisits: list[tuple[StoredMessage, list[str]]], scope: Scope
) -> list[tuple[MemoryRecord, list[str]]]:
    """The memories stored verbatim from these earlier messages (same text, same time), each
    with its new context."""
    known = ctx.store.find_by_hash(scope.owner_only(), [memory_hash(m.content) for m, _ in revisits])
    found = [(known.get(memory_hash(m.content)), m, context) for m, context in revisits]
    return [
        (record, context)
        for record, message, context in found
        if record is not None and record.created_at == message.created_at and record.memory == message.content
    ]


__all__ = ["IMAGES_NOT_STORED", "plan_verbatim"]
