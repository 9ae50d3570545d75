"""Write-time screening: what the privacy policy does with each sensitive value found in a text.

Each category (``detectors.Category``) has an action: ``keep`` it as said, ``redact`` it to a typed
placeholder (``[secret]``, ``[card ••4242]``) or ``refuse`` the whole text with a ``ValidationError``
that names the category, never the value. By default secrets and card numbers are redacted and the
rest kept (``PrivacyConfig``); the config's ``"privacy"`` section changes that::

    {"privacy": {"secret": "redact", "card": "refuse", "email": "redact"}}

``screen`` is pure and linear in the text: the add pipeline runs it on message content, facts,
metadata values and image descriptions before anything is stored or sent to an LLM.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from engram.errors import ValidationError
from engram.privacy.detectors import CATEGORIES, Category, Finding, find
from engram.results import Redaction


class Action(StrEnum):
    KEEP = "keep"
    REDACT = "redact"
    REFUSE = "refuse"


class PrivacyConfig(BaseModel):
    """The ``"privacy"`` section of the config: an action per category."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret: Action = Action.REDACT
    card: Action = Action.REDACT
    iban: Action = Action.KEEP
    government_id: Action = Action.KEEP
    email: Action = Action.KEEP
    phone: Action = Action.KEEP

    def action(self, category: Category) -> Action:
        return Action(getattr(self, category.value))

    def screened_categories(self) -> tuple[Category, ...]:
        """The categories to look for: every one not kept, and the stronger ones before them, so that a
        card is still recognised as a card (and kept) when phone numbers are redacted."""
        acting = [index for index, category in enumerate(CATEGORIES) if self.action(category) != Action.KEEP]
        return CATEGORIES[: max(acting) + 1] if acting else ()


DEFAULT_PRIVACY = PrivacyConfig()

_LABELS = {
    Category.SECRET: "a secret (API key, token, private key or password)",
    Category.CARD: "a payment card number",
    Category.IBAN: "a bank account number (IBAN)",
    Category.GOVERNMENT_ID: "a government id number",
    Category.EMAIL: "an email address",
    Category.PHONE: "a phone number",
}


@dataclass(frozen=True)
class Screened:
    """A screened text and how many values of each category were redacted from it."""

    text: str
    redactions: dict[str, int] = field(default_factory=dict)

    def report(self) -> list[Redaction]:
        """What an ``add`` result says: ``[{"category", "count"}]``, never the values."""
        return redaction_report(self.redactions)


def screen(text: str, policy: PrivacyConfig = DEFAULT_PRIVACY) -> Screened:
    """Apply the policy to one text: redact what it redacts, refuse what it refuses.

    Raises ``ValidationError`` naming the first refused category found; the value is never in the message.
    """
    categories = policy.screened_categories()
    if not categories or not text:
        return Screened(text)
    acted = [f for f in find(text, categories) if policy.action(f.category) != Action.KEEP]
    for finding in acted:
        if policy.action(finding.category) == Action.REFUSE:
            raise ValidationError(
                f"the text holds {_LABELS[finding.category]}, which the privacy policy refuses to store "
                f'(privacy.{finding.category.value} = "refuse"): remove it, or change the policy'
            )
    if not acted:
        return Screened(text)
    parts: list[str] = []
    counts: dict[str, int] = {}
    position = 0
    for finding in acted:
        parts += [text[position : finding.start], placeholder(finding, text)]
        position = finding.end
        counts[finding.category.value] = counts.get(finding.category.value, 0) + 1
    parts.append(text[position:])
    return Screened("".join(parts), counts)


def placeholder(finding: Finding, text: str) -> str:
    """The typed placeholder that replaces a value: ``[card ••4242]`` keeps a card's or an IBAN's last four
    characters (what receipts and bank statements show), nothing else keeps any."""
    if finding.category in (Category.CARD, Category.IBAN):
        tail = "".join(c for c in text[finding.start : finding.end] if c.isalnum())[-4:]
        return f"[{'card' if finding.category == Category.CARD else 'iban'} ••{tail}]"
    return {
        Category.SECRET: "[secret]",
        Category.GOVERNMENT_ID: "[government id]",
        Category.EMAIL: "[email]",
        Category.PHONE: "[phone]",
    }[finding.category]


def screen_value(value: Any, policy: PrivacyConfig = DEFAULT_PRIVACY) -> tuple[Any, dict[str, int]]:
    """Screen every string inside a JSON-like value (metadata): dict values and list items, recursively.
    Keys, numbers and booleans are left as they are. Returns the new value and the redaction counts."""
    counts: dict[str, int] = {}

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            screened = screen(item, policy)
            merge_counts(counts, screened.redactions)
            return screened.text
        if isinstance(item, Mapping):
            return {key: walk(inner) for key, inner in item.items()}
        if isinstance(item, list | tuple):
            return [walk(inner) for inner in item]
        return item

    return walk(value), counts


def merge_counts(total: dict[str, int], more: Mapping[str, int]) -> dict[str, int]:
    """Add ``more`` into ``total`` (in place) and return it: an add sums its texts' redactions."""
    for category, count in more.items():
        total[category] = total.get(category, 0) + count
    return total


def redaction_report(counts: Mapping[str, int]) -> list[Redaction]:
    """``[{"category", "count"}]`` in the categories' order, for an add result."""
    return [{"category": c.value, "count": counts[c.value]} for c in CATEGORIES if counts.get(c.value)]
