"""Answering a question from retrieved memories, and judging the answer, with an LLM.

The prompts follow the usual LoCoMo protocol (mem0's and Zep's evaluations):
answer briefly from the memories, resolving relative dates against each
memory's date; a judge marks the answer CORRECT when it refers to the same
thing as the gold answer, generously about wording and date formats.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engram.llms.base import LLM, Usage
from engram.pipeline.parsing import parse_json_answer

ANSWER_PROMPT = """You answer questions about a long conversation between {speakers} using memories of it.
Each memory has the date it was said. Relative dates in a memory ("last week", "yesterday") are
relative to that date: resolve them to a concrete date or period. If memories contradict each other,
prefer the most recent. Answer in at most a short sentence, with no explanation.

Memories:
{memories}

Question: {question}
Answer:"""

JUDGE_PROMPT = """Label an answer to a question as CORRECT or WRONG.
You get the question, the gold answer and the generated answer. Be generous: the generated answer is
CORRECT when it refers to the same thing as the gold answer, even if it is longer or worded differently.
For dates, a different format or a relative phrase that resolves to the same date or period is CORRECT.

Question: {question}
Gold answer: {gold}
Generated answer: {prediction}

Reply with JSON only: {{"label": "CORRECT"}} or {{"label": "WRONG"}}."""

JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"label": {"type": "string", "enum": ["CORRECT", "WRONG"]}},
    "required": ["label"],
}


@dataclass(frozen=True)
class Answered:
    text: str
    usage: Usage
    latency_ms: float


def format_memories(items: Sequence[Mapping[str, Any]]) -> str:
    """One line per memory: its date, then its text."""
    return "\n".join(f"- [{str(item.get('created_at', ''))[:10]}] {item['memory']}" for item in items)


def answer_question(llm: LLM, question: str, memories: Sequence[Mapping[str, Any]], speakers: str) -> Answered:
    prompt = ANSWER_PROMPT.format(speakers=speakers, memories=format_memories(memories), question=question)
    started = time.perf_counter()
    completion = llm.complete([{"role": "user", "content": prompt}])
    elapsed = (time.perf_counter() - started) * 1000
    return Answered(completion.text.strip(), completion.usage, elapsed)


def judge_answer(llm: LLM, question: str, gold: str, prediction: str) -> tuple[bool, Usage]:
    """True when the judge says CORRECT; an unreadable verdict counts as WRONG."""
    prompt = JUDGE_PROMPT.format(question=question, gold=gold, prediction=prediction)
    completion = llm.complete([{"role": "user", "content": prompt}], json_schema=JUDGE_SCHEMA)
    verdict = parse_json_answer(completion.text)
    # A bare word ("CORRECT") is still a verdict.
    label = str(verdict.get("label", "")) if isinstance(verdict, dict) else completion.text
    return label.strip().upper().startswith("CORRECT"), completion.usage
