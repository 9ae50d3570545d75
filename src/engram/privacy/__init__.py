"""Privacy and trust: screening what is stored, and telling instructions from facts.

- ``screening``: find secrets, card numbers, IBANs, government ids, emails and phone numbers in a
  text and keep, redact or refuse each by the config's ``"privacy"`` policy (``screen``);
- ``detectors`` and its finders (``secrets``, ``numbers``, ``contacts``): where each kind of value is;
- ``sources``: who said a message (user, assistant, tool, document);
- ``injection``: whether text from a non-user source is an instruction that must never be stored as a fact.

Everything here is pure: no I/O, no model, linear in the text.
"""

from engram.privacy.detectors import CATEGORIES, Category, Finding, find
from engram.privacy.injection import instruction_signals, is_instruction
from engram.privacy.screening import (
    DEFAULT_PRIVACY,
    Action,
    PrivacyConfig,
    Screened,
    merge_counts,
    redaction_report,
    screen,
    screen_value,
)
from engram.privacy.sources import Source, TrustConfig, ordered_sources, source_of

__all__ = [
    "CATEGORIES",
    "DEFAULT_PRIVACY",
    "Action",
    "Category",
    "Finding",
    "PrivacyConfig",
    "Screened",
    "Source",
    "TrustConfig",
    "find",
    "instruction_signals",
    "is_instruction",
    "merge_counts",
    "ordered_sources",
    "redaction_report",
    "screen",
    "screen_value",
    "source_of",
]
