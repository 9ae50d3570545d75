"""Step 2 of add: the LLM reads the conversation and lists the facts worth keeping."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engram.llms.base import LLM, Usage
from engram.messages import Message
from engram.pipeline.graph import GRAPH_PROMPT, GraphExtraction, read_graph, with_graph
from engram.pipeline.parsing import parse_json_answer
from engram.pipeline.prompts import FACT_EXTRACTION_PROMPT, FACT_EXTRACTION_SCHEMA


@dataclass(frozen=True)
class Fact:
    text: str
    sources: tuple[int, ...] = ()  # indexes into the messages passed to add


@dataclass
class Extraction:
    facts: list[Fact]
    usage: Usage
    warnings: list[str] = field(default_factory=list)
    graph: GraphExtraction | None = None  # entities and relations, when the graph is on


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
    parts.append("Conversation:\n" + "\n".join(f"[{i}] {m.as_line()}" for i, m in enumerate(messages)))
    completion = llm.complete(
        [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}],
        json_schema=with_graph(FACT_EXTRACTION_SCHEMA) if graph else FACT_EXTRACTION_SCHEMA,
    )
    answer = parse_json_answer(completion.text)
    facts, warnings = _read_facts(answer, len(messages))
    return Extraction(facts, completion.usage, warnings, read_graph(answer, self_name=self_name) if graph else None)


def _read_facts(answer: object, message_count: int) -> tuple[list[Fact], list[str]]:
    if isinstance(answer, dict):
        answer = answer.get("facts")
    if not isinstance(answer, list):
        return [], ["fact extraction: the LLM's answer held no list of facts; nothing was stored"]
    facts: list[Fact] = []
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
        if _is_placeholder(text):
            continue
        if text.lower() not in seen:
            seen.add(text.lower())
            valid = tuple(s for s in sources if isinstance(s, int) and 0 <= s < message_count)
            facts.append(Fact(text, valid))
    return facts, []


# Small models sometimes copy the prompt's example instead of writing a fact.
PLACEHOLDERS = frozenset({"...", "text", "fact", "facts", "none", "null", "n/a", "nothing", "string"})


def _is_placeholder(text: str) -> bool:
    return len(text) < 3 or not any(ch.isalnum() for ch in text) or text.lower().strip(".") in PLACEHOLDERS
