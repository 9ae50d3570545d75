"""Screen, a step of add: the privacy policy (``privacy.screening``) applied to everything an add stores
or sends to a model, before it is stored or sent (DESIGN.md section 1e).

- ``screen_input``: the messages' text and the metadata values, before any planner runs
  (``Memory.add``), so that the verbatim, inferred and procedural adds all see screened text and no
  model receives a redacted value. A refused category raises ``ValidationError`` there: nothing is
  written or sent.
- ``ModelScreen``: what a model wrote (facts, a decided text, a summary). A model may echo a value
  it saw elsewhere (an episode stored before screening, a custom prompt) or make one up. A redacted
  value becomes its placeholder; a refused one drops the fact, with a warning that names the category
  and never the value: the text is the model's, so the caller's add goes on without it.

Image descriptions are screened as they join their message (``images.describe_images``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from engram.errors import ValidationError
from engram.messages import Message
from engram.pipeline.plan import Action, Fact
from engram.privacy.screening import PrivacyConfig, merge_counts, screen, screen_value


@dataclass(frozen=True)
class ScreenedInput:
    """An add's messages and metadata as the policy lets them be stored, and what it redacted."""

    turns: list[Message]
    metadata: dict[str, Any]
    redactions: dict[str, int]


def screen_input(turns: Sequence[Message], metadata: dict[str, Any], policy: PrivacyConfig) -> ScreenedInput:
    """Screen each message's text and every string of the metadata; raises on a refused category."""
    counts: dict[str, int] = {}
    screened: list[Message] = []
    for turn in turns:
        result = screen(turn.content, policy)
        merge_counts(counts, result.redactions)
        screened.append(replace(turn, content=result.text) if result.redactions else turn)
    clean, found = screen_value(metadata, policy)
    return ScreenedInput(screened, clean, merge_counts(counts, found))


@dataclass
class ModelScreen:
    """Screens what a model wrote during one add, counting what it redacted and saying what it dropped."""

    policy: PrivacyConfig
    redactions: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def text(self, text: str, what: str) -> str | None:
        """``text`` screened; None (and a warning) when it holds a category the policy refuses."""
        try:
            screened = screen(text, self.policy)
        except ValidationError as refused:
            self.warnings.append(f"dropped {what} the model wrote: {refused}")
            return None
        merge_counts(self.redactions, screened.redactions)
        return screened.text

    def facts(
        self, facts: Sequence[Fact], decisions: Sequence[dict[str, Any] | None]
    ) -> tuple[list[Fact], list[dict[str, Any] | None]]:
        """The facts screened, with their decisions (aligned with them, or empty) kept in step."""
        kept: list[Fact] = []
        kept_decisions: list[dict[str, Any] | None] = []
        for index, fact in enumerate(facts):
            text = self.text(fact.text, "a fact")
            if text is not None:
                kept.append(replace(fact, text=text))
                if decisions:
                    kept_decisions.append(decisions[index])
        return kept, kept_decisions

    def actions(self, actions: Sequence[Action]) -> list[Action]:
        """The actions whose new text (ADD, UPDATE) is screened; one whose text is refused is dropped."""
        kept = []
        for action in actions:
            if action.text is None:
                kept.append(action)
            elif (text := self.text(action.text, "a memory")) is not None:
                kept.append(action if text == action.text else replace(action, text=text))
        return kept


def screen_update(
    text: str | None, metadata: dict[str, Any] | None, policy: PrivacyConfig
) -> tuple[str | None, dict[str, Any] | None, dict[str, int]]:
    """``update``'s new text and metadata (either may be None: unchanged), screened; raises on a refused
    category before anything is written."""
    counts: dict[str, int] = {}
    if text is not None:
        screened = screen(text, policy)
        text = screened.text
        merge_counts(counts, screened.redactions)
    if metadata is not None:
        metadata, found = screen_value(metadata, policy)
        merge_counts(counts, found)
    return text, metadata, counts


def screen_add_request(request: Mapping[str, Any], policy: PrivacyConfig) -> tuple[dict[str, Any], dict[str, int]]:
    """An add's arguments (``messages`` as the caller gave them: a string, a message or a list of them,
    content as a string or parts) with their text and metadata screened, for a server that keeps the
    request until it runs (an async add): the queue must not hold what the store would not. Roles,
    names and image parts are left as they are; raises on a refused category."""
    counts: dict[str, int] = {}

    def text(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        screened = screen(value, policy)
        merge_counts(counts, screened.redactions)
        return screened.text

    def part(item: Any) -> Any:
        is_text = isinstance(item, Mapping) and item.get("type") == "text"
        return {**item, "text": text(item.get("text"))} if is_text else item

    def message(item: Any) -> Any:
        if not isinstance(item, Mapping):
            return text(item)
        content = item.get("content")
        parts = [part(p) for p in content] if isinstance(content, list) else part(content)
        return {**item, "content": text(content) if isinstance(content, str) else parts}

    messages = request.get("messages")
    screened = dict(
        request, messages=[message(m) for m in messages] if isinstance(messages, list) else message(messages)
    )
    if isinstance(request.get("metadata"), Mapping):
        screened["metadata"], found = screen_value(request["metadata"], policy)
        merge_counts(counts, found)
    return screened, counts


__all__ = ["ModelScreen", "ScreenedInput", "screen_add_request", "screen_input", "screen_update"]
