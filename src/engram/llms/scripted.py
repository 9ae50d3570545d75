"""An LLM that replays canned answers: for tests and examples, never a default.

    llm = ScriptedLLM(['{"facts": [{"text": "Likes tea"}]}'])

Each call takes the next answer; an answer may also be a function of the
messages, to answer by content. Every call is recorded in ``calls``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from engram.llms.base import ChatMessage, Completion, Usage

Answer = str | Callable[[list[ChatMessage]], str]


@dataclass
class ScriptedCall:
    messages: list[ChatMessage]
    json_schema: dict[str, Any] | None


class ScriptedLLM:
    model_name = "scripted"

    def __init__(self, answers: Iterable[Answer] = ()) -> None:
        self.answers: list[Answer] = list(answers)
        self.calls: list[ScriptedCall] = []

    def complete(self, messages: list[ChatMessage], *, json_schema: dict[str, Any] | None = None) -> Completion:
        self.calls.append(ScriptedCall(messages, json_schema))
        if not self.answers:
            raise AssertionError(f"ScriptedLLM ran out of answers at call {len(self.calls)}")
        answer = self.answers.pop(0)
        text = answer(messages) if callable(answer) else answer
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        return Completion(text, Usage(1, prompt_tokens, len(text.split())), self.model_name)
