"""All the finders together: which spans of a text hold which kind of sensitive value.

Findings of different categories can overlap (the digits of a card also look like a phone
number); the category listed first in ``CATEGORIES`` wins, so a card is never reported as a phone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from engram.privacy.contacts import find_emails, find_phones
from engram.privacy.numbers import find_cards, find_government_ids, find_ibans
from engram.privacy.secrets import find_secrets


class Category(StrEnum):
    SECRET = "secret"  # API keys, tokens, private keys, passwords
    CARD = "card"  # payment card numbers
    IBAN = "iban"  # bank account numbers
    GOVERNMENT_ID = "government_id"  # social security, national insurance, tax and identity numbers
    EMAIL = "email"
    PHONE = "phone"


CATEGORIES = tuple(Category)
"""Every category, strongest first: when findings overlap, the earlier category wins."""

_FINDERS: dict[Category, Callable[[str], list[tuple[int, int]]]] = {
    Category.SECRET: find_secrets,
    Category.CARD: find_cards,
    Category.IBAN: find_ibans,
    Category.GOVERNMENT_ID: find_government_ids,
    Category.EMAIL: find_emails,
    Category.PHONE: find_phones,
}


@dataclass(frozen=True, order=True)
class Finding:
    start: int
    end: int
    category: Category


def find(text: str, categories: Iterable[Category] = CATEGORIES) -> list[Finding]:
    """Non-overlapping findings of these categories, in text order."""
    found = [
        Finding(start, end, category)
        for category in categories
        for start, end in _FINDERS[category](text)
        if start < end
    ]
    return resolve_overlaps(found)


def resolve_overlaps(found: list[Finding]) -> list[Finding]:
    """One finding per stretch of text: overlapping findings of one category merge into their union;
    across categories the stronger one (earlier in ``CATEGORIES``) is kept, or the longer one if tied."""
    rank = {category: index for index, category in enumerate(CATEGORIES)}
    kept: list[Finding] = []
    for finding in sorted(found):
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
            continue
        last = kept[-1]
        if finding.category == last.category:
            kept[-1] = Finding(last.start, max(last.end, finding.end), last.category)
        elif (rank[finding.category], -(finding.end - finding.start)) < (rank[last.category], -(last.end - last.start)):
            kept[-1] = finding
    return kept
