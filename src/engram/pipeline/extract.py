"""Extract, a step of add: the LLM reads the conversation and lists the facts worth keeping.

By default one call extracts the facts and, against the stored memories shown to it
(``neighbours.neighbours_of``), decides what each does to them; with the graph on, the same call
names the entities and relations. A custom extraction or update prompt is written for a call of
its own: the facts are then extracted first and decided in a second call (``decide.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from engram.llms.base import LLM, ChatMessage, Completion, Usage
from engram.messages import Message
from engram.models import MemoryRecord
from engram.pipeline.entities import GRAPH_PROMPT, GraphExtraction, read_graph, schema_with_graph
from engram.pipeline.parsing import degenerate, parse_json_answer
from engram.pipeline.plan import Context, Draft, Fact, self_name
from engram.pipeline.prompts import (
    CONVERSATION_HEADER,
    FACT_EXTRACTION_PROMPT,
    FACT_EXTRACTION_SCHEMA,
    MEMORIES_HEADER,
    RETRY_FACTS,
    memory_request,
    tighter,
)
from engram.pipeline.trust import without_instructions
from engram.search import same_conversation
from engram.validation import storable


@dataclass(frozen=True)
class ForgetRequest:
    """What the model says the user asked to forget, and the shown memory that holds it, if it named one."""

    what: str
    memory: int | None = None  # the number under which the request showed it


@dataclass
class Extraction:
    facts: list[Fact]
    usage: Usage
    warnings: list[str] = field(default_factory=list)
    graph: GraphExtraction | None = None  # entities and relations, when the graph is on
    # With existing memories shown: one decision per fact, in ``plan_actions``'s format
    # ({"fact", "event", "memory_id"}), or None where the fact carried none.
    decisions: list[dict[str, Any] | None] = field(default_factory=list)
    forget: list[ForgetRequest] = field(default_factory=list)  # what the user asked to forget
    answer: Any = None  # the whole parsed answer, for steps that add their own properties


def custom_extraction_prompt(ctx: Context, custom_prompt: str | None) -> str | None:
    """The add's own prompt, else the config's custom fact extraction prompt."""
    return custom_prompt or ctx.config.custom_fact_extraction_prompt


def uses_two_calls(ctx: Context, custom_prompt: str | None) -> bool:
    """A custom prompt is written for a call of its own: extraction and decisions are then two calls."""
    return bool(custom_extraction_prompt(ctx, custom_prompt) or ctx.config.custom_update_memory_prompt)


def extract(
    ctx: Context,
    llm: LLM,
    spoken: list[Message],
    draft: Draft,
    shown: Sequence[MemoryRecord],
    custom_prompt: str | None,
) -> Extraction:
    """The facts of an add, its forget requests and (graph on) its entities and relations; with
    ``shown`` memories and one call, each fact's decision too. The usage is tagged by call."""
    # Earlier messages help read this one only when they are the same conversation (minutes, not
    # weeks, before): an app that adds one message per call. Older ones cost tokens and say nothing.
    stored = same_conversation(ctx.store.recent_messages(draft.scope, ctx.config.recent_messages), draft.created_at)
    context = without_instructions(ctx.config.trust, [Message(m.role, m.content, m.name) for m in stored])
    graph_on, speaker = ctx.graph is not None, self_name(spoken, draft.scope)
    if uses_two_calls(ctx, custom_prompt):
        prompt = custom_extraction_prompt(ctx, custom_prompt)
        extraction = extract_facts(
            llm,
            spoken,
            context=context,
            reference_time=draft.created_at,
            custom_prompt=prompt,
            graph=graph_on,
            self_name=speaker,
        )
        return replace(extraction, usage=extraction.usage.tagged("extract"))
    extraction = extract_and_decide(
        llm,
        spoken,
        context=context,
        reference_time=draft.created_at,
        existing=[r.memory for r in shown],
        graph=graph_on,
        self_name=speaker,
    )
    return replace(extraction, usage=extraction.usage.tagged("extract+decide" if shown else "extract"))


def extract_facts(
    llm: LLM,
    messages: list[Message],
    *,
    context: list[Message],
    reference_time: datetime,
    custom_prompt: str | None = None,
    graph: bool = False,
    self_name: str | None = None,
) -> Extraction:
    """Ask the LLM for facts (and, with ``graph``, entities and relations in the same call);
    an unreadable answer yields no facts and a warning. ``self_name`` stands for "I" in relations."""
    system = (custom_prompt or FACT_EXTRACTION_PROMPT) + (GRAPH_PROMPT if graph else "")
    system = system.replace("{today}", reference_time.date().isoformat())
    system = system.replace("{{", "{").replace("}}", "}")
    parts = []
    if context:
        parts.append("Earlier messages, for context only:\n" + "\n".join(m.as_line() for m in context))
    parts.append(f"Conversation date: {reference_time.date().isoformat()}")
    parts.append(CONVERSATION_HEADER + "\n" + "\n".join(f"[{i}] {m.as_line()}" for i, m in enumerate(messages)))
    request: list[ChatMessage] = [
        {"role": "system", "content": system},
        {"role": "user", "content": "\n\n".join(parts)},
    ]
    schema = schema_with_graph(FACT_EXTRACTION_SCHEMA) if graph else FACT_EXTRACTION_SCHEMA
    completion, problem = complete_sound(llm, request, schema)
    if problem:
        return Extraction([], completion.usage, [problem])
    answer = parse_json_answer(completion.text)
    facts, warnings = _read_facts(answer, len(messages))
    return Extraction(facts, completion.usage, warnings, read_graph(answer, self_name=self_name) if graph else None)


def extract_and_decide(
    llm: LLM,
    messages: list[Message],
    *,
    context: list[Message],
    reference_time: datetime,
    existing: Sequence[str],
    graph: bool = False,
    self_name: str | None = None,
) -> Extraction:
    """One call: the facts of the conversation and, when ``existing`` memories are shown,
    what each fact does to them (memories are numbered 0, 1, ... in the prompt); with ``graph``,
    entities and relations too, in the same answer (``self_name`` stands for "I" in relations)."""
    system, schema = memory_request(
        with_memories=True,  # with no memory shown, "UPDATE" still says the fact changes one (engram finds it)
        extra_instructions=GRAPH_PROMPT.strip().replace("{{", "{").replace("}}", "}") if graph else "",
    )
    if graph:
        schema = schema_with_graph(schema)
    parts = []
    if context:
        parts.append("Earlier messages, for context only:\n" + "\n".join(m.as_line() for m in context))
    if existing:
        parts.append(MEMORIES_HEADER + "\n" + "\n".join(f"[{i}] {text}" for i, text in enumerate(existing)))
    parts.append(f"Conversation date: {reference_time.date().isoformat()}")
    parts.append(CONVERSATION_HEADER + "\n" + "\n".join(f"[{i}] {m.as_line()}" for i, m in enumerate(messages)))
    request: list[ChatMessage] = [
        {"role": "system", "content": system},
        {"role": "user", "content": "\n\n".join(parts)},
    ]
    completion, problem = complete_sound(llm, request, schema)
    if problem:
        return Extraction([], completion.usage, [problem])
    answer = parse_json_answer(completion.text)
    items = _fact_items(answer, len(messages), reference_time)
    if items is None:
        warning = "memory extraction: the LLM's answer held no list of facts; nothing was stored"
        return Extraction([], completion.usage, [warning], answer=answer)
    facts = [fact for fact, _ in items]
    decisions = [_decision(i, raw) for i, (_, raw) in enumerate(items)]
    relations = read_graph(answer, self_name=self_name) if graph else None
    warnings = (
        [f"{n} fact(s) held text no store can hold (a NUL or a lone surrogate); left out"]
        if (n := unstorable_facts(answer))
        else []
    )
    return Extraction(facts, completion.usage, warnings, relations, decisions, _forget_items(answer), answer)


def complete_sound(llm: LLM, request: list[ChatMessage], schema: dict[str, Any]) -> tuple[Completion, str | None]:
    """The model's answer, asked again once with a tighter budget when the first one looped or was
    cut off (``parsing.degenerate``); the second reason, as a warning, when that one is too. Nothing
    is extracted from a degenerate answer: the add keeps its messages as episodes, and says so."""
    completion = llm.complete(request, json_schema=schema)
    problem = degenerate(completion.text)
    if problem is None:
        return completion, None
    note = f"\n\nAnswer with at most {RETRY_FACTS} facts, each one short sentence."
    retry_request: list[ChatMessage] = [*request[:-1], {**request[-1], "content": f"{request[-1]['content']}{note}"}]
    retry = llm.complete(retry_request, json_schema=tighter(schema))
    usage = completion.usage + retry.usage
    again = degenerate(retry.text)
    if again is None:
        return Completion(retry.text, usage, retry.model), None
    warning = (
        f"memory extraction: the LLM's answer was {problem}, and {again} when asked for less; "
        "no fact was extracted (the messages are kept as episodes)"
    )
    return Completion(retry.text, usage, retry.model), warning


def _decision(index: int, raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or not raw.get("event"):
        return None
    return {"fact": index, "event": raw["event"], "memory_id": raw.get("memory")}


def _forget_items(answer: Any) -> list[ForgetRequest]:
    """The forget requests of an answer: ``{"what", "memory"}`` items, or plain strings (older prompts)."""
    raw = answer.get("forget") if isinstance(answer, dict) else None
    if isinstance(raw, str | dict):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    requests = []
    for item in raw:
        what = item.get("what") if isinstance(item, dict) else item
        if not isinstance(what, str) or _is_placeholder(what.strip()) or not storable(what):
            continue
        memory = item.get("memory") if isinstance(item, dict) else None
        shown = memory if isinstance(memory, int) and not isinstance(memory, bool) and memory >= 0 else None
        requests.append(ForgetRequest(" ".join(what.split()), shown))
    return requests


def _read_facts(answer: object, message_count: int) -> tuple[list[Fact], list[str]]:
    items = _fact_items(answer, message_count, None)
    if items is None:
        return [], ["fact extraction: the LLM's answer held no list of facts; nothing was stored"]
    return [fact for fact, _ in items], []


def _fact_items(answer: object, message_count: int, reference_time: datetime | None) -> list[tuple[Fact, Any]] | None:
    """Each readable fact with the raw item it came from; None when there is no list of facts. A
    fact no store can hold (a NUL, a lone surrogate) is left out (``unstorable_facts`` names it)."""
    if isinstance(answer, dict):
        answer = answer.get("facts")
    if not isinstance(answer, list):
        return None
    facts: list[tuple[Fact, Any]] = []
    seen: set[str] = set()
    for item in answer:
        sources: list[Any] = []
        raw_text: Any = item
        if isinstance(item, dict):
            raw_text = item.get("text") or item.get("fact")
            if isinstance(item.get("sources"), list):
                sources = item["sources"]
        if not isinstance(raw_text, str):
            continue
        text = " ".join(raw_text.split())
        if _is_placeholder(text) or not storable(text):
            continue
        if text.lower() not in seen:
            seen.add(text.lower())
            valid = tuple(s for s in sources if isinstance(s, int) and 0 <= s < message_count)
            when = _fact_date(item.get("date"), reference_time) if isinstance(item, dict) else None
            subject, attribute = read_about(item.get("about") if isinstance(item, dict) else None)
            facts.append((Fact(text, valid, when, subject, attribute), item))
    return facts


_ISO_DAY = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})")


def _fact_date(raw: Any, reference_time: datetime | None) -> datetime | None:
    """A fact's own date (YYYY-MM-DD), kept only when it is a real day before the add's time.

    A fact cannot have become true after it was said, so a later date (a plan, or the model
    misreading "next month") is ignored, and so is the conversation's own day.
    """
    if reference_time is None or not isinstance(raw, str) or not (match := _ISO_DAY.match(raw)):
        return None
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    if day >= reference_time.date():
        return None
    tz = reference_time.tzinfo or UTC
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def unstorable_facts(answer: object) -> int:
    """How many facts of an answer no store can hold (a NUL or a lone surrogate in their text)."""
    items = answer.get("facts") if isinstance(answer, dict) else answer
    if not isinstance(items, list):
        return 0
    texts = [item.get("text") if isinstance(item, dict) else item for item in items]
    return sum(1 for text in texts if isinstance(text, str) and not storable(text))


def read_about(raw: Any) -> tuple[str | None, str | None]:
    """``"Ana: employer"`` as (subject, attribute); a bare ``"employer"`` has no subject."""
    if not isinstance(raw, str) or not raw.strip() or _is_placeholder(raw.strip()) or not storable(raw):
        return None, None
    if ":" not in raw:  # half of it: a name ("Carla") is whose fact it is, words ("home city") what of theirs
        words = raw.split()
        if words[0][:1].isupper() and len(words) <= 3:
            return " ".join(words), None
        return None, " ".join(words).lower()
    named, _, what = raw.rpartition(":")
    return " ".join(named.split()) or None, " ".join(what.split()).lower() or None


# Small models sometimes copy the prompt's example instead of writing a fact.
PLACEHOLDERS = frozenset({"...", "text", "fact", "facts", "none", "null", "n/a", "nothing", "string"})


def _is_placeholder(text: str) -> bool:
    return len(text) < 3 or not any(ch.isalnum() for ch in text) or text.lower().strip(".") in PLACEHOLDERS
