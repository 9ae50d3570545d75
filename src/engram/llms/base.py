"""The LLM protocol: one method, ``complete``, and what it returns.

A provider implements ``complete``; everything around it (JSON repair, token
accounting, retries) is written once, outside the provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

ChatMessage = dict[str, Any]
"""An OpenAI-style chat message: ``{"role": ..., "content": ...}``."""


@dataclass(frozen=True)
class Usage:
    """Tokens spent by one or more LLM calls, with totals per pipeline stage.

    ``stages`` maps a stage name ("extract", "reconcile", "vision", ...) to the
    ``(calls, prompt_tokens, completion_tokens)`` spent in it; ``tagged`` puts a
    call's usage in a stage, and adding usages adds their stages too.
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stages: tuple[tuple[str, tuple[int, int, int]], ...] = ()

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def tagged(self, stage: str) -> Usage:
        """This usage, all of it counted under ``stage``."""
        return Usage(
            self.calls,
            self.prompt_tokens,
            self.completion_tokens,
            ((stage, (self.calls, self.prompt_tokens, self.completion_tokens)),),
        )

    def __add__(self, other: Usage) -> Usage:
        stages = dict(self.stages)
        for name, (calls, prompt, completion) in other.stages:
            before = stages.get(name, (0, 0, 0))
            stages[name] = (before[0] + calls, before[1] + prompt, before[2] + completion)
        return Usage(
            self.calls + other.calls,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            tuple(stages.items()),
        )

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.stages:
            result["stages"] = {
                name: {
                    "calls": calls,
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                }
                for name, (calls, prompt, completion) in self.stages
            }
        return result


@dataclass(frozen=True)
class Completion:
    """What one call to an LLM returned."""

    text: str
    usage: Usage = field(default_factory=lambda: Usage(calls=1))
    model: str | None = None


@runtime_checkable
class LLM(Protocol):
    """Anything that can answer a chat.

    ``json_schema`` is the JSON schema the answer should follow. Providers that
    support structured output send it; the others may ignore it, because the
    caller parses the answer tolerantly either way.
    """

    @property
    def model_name(self) -> str: ...

    def complete(self, messages: list[ChatMessage], *, json_schema: dict[str, Any] | None = None) -> Completion: ...
