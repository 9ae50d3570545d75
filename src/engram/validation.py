"""Checks every verb's input before any work starts: hostile strings, numbers and sizes.

Whatever a caller passes (text, ids, metadata, filters, a memory id, a query), a
string with a lone surrogate (``"\\ud800"``: not encodable as UTF-8) or a NUL
character (PostgreSQL cannot store it) is refused with a ``ValidationError``
naming the argument, on every store, instead of failing deep inside a driver; so is an
integer too large for Python to print (``MAX_INT_BITS``), which would fail in the first
error message that showed it.
``add`` also refuses more than ``MAX_ADD_CHARS`` characters of text, which would
otherwise take seconds and gigabytes to embed.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from engram.errors import ValidationError

MAX_ADD_CHARS = 500_000  # characters of text in one add (a long chat session is ~20,000)
MAX_NESTING = 64  # lists and dicts inside metadata or filters
# Bits of the largest integer an argument may hold: Python refuses to write integers of more than
# 4,300 digits as text (``sys.get_int_max_str_digits``), so one that large would fail in whatever
# message or query first printed it. 14,000 bits is about 4,215 digits; no verb has a use for more.
MAX_INT_BITS = 14_000

P = ParamSpec("P")
R = TypeVar("R")


def check_input(verb: Callable[P, R]) -> Callable[P, R]:
    """Check every argument of ``verb`` (a ``Memory`` method) with ``check_value`` first."""
    signature = inspect.signature(verb)

    @functools.wraps(verb)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind_partial(*args, **kwargs)
        for name, value in list(bound.arguments.items())[1:]:  # [0] is self
            chars = check_value(value, name)
            if verb.__name__ == "add" and name == "messages" and chars > MAX_ADD_CHARS:
                raise ValidationError(
                    f"messages hold {chars:,} characters, over the limit of {MAX_ADD_CHARS:,} for one add: "
                    "split the conversation into several adds"
                )
        return verb(*args, **kwargs)

    return checked


def check_value(value: Any, what: str) -> int:
    """Raise ValidationError for a string ``value`` (or one inside it) that no store can hold.

    Returns the number of characters of text it holds.
    """
    return _walk(value, what, 0)


def _walk(value: Any, what: str, depth: int) -> int:
    if isinstance(value, str):
        check_text(value, what)
        return len(value)
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ValidationError(f"{what} holds an integer of more than 4,000 digits: no verb takes one")
    if depth > MAX_NESTING:
        raise ValidationError(f"{what} nests lists and dicts more than {MAX_NESTING} levels deep")
    if isinstance(value, Mapping):
        chars = sum(_walk(key, what, depth + 1) + _walk(item, what, depth + 1) for key, item in value.items())
        return 0 if value.get("type") == "image_url" else chars  # an image (a data URL) is not text to embed
    if isinstance(value, list | tuple | set | frozenset):
        return sum(_walk(item, what, depth + 1) for item in value)
    return 0


def strict_json(text: str | bytes) -> Any:
    """``json.loads`` that refuses NaN, Infinity and numbers too large for a float (json.JSONDecodeError),
    as every value engram stores must be: no store could filter on them."""
    return json.loads(text, parse_constant=_not_a_number, parse_float=_finite)


def _not_a_number(constant: str) -> float:
    raise json.JSONDecodeError(f"{constant} is not a JSON number", constant, 0)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise json.JSONDecodeError(f"{text} is too large for a number", text, 0)
    return number


def storable(text: str) -> bool:
    """Whether every store can hold ``text``: no NUL, no lone surrogate (for text an LLM wrote,
    which the pipeline drops with a warning instead of refusing the caller's call)."""
    try:
        check_text(text, "text")
    except ValidationError:
        return False
    return True


def check_text(text: str, what: str) -> None:
    """Refuse a lone surrogate (not UTF-8) and NUL (PostgreSQL cannot store it) in ``text``."""
    if "\x00" in text:
        raise ValidationError(f"{what} contains a NUL character (\\x00): remove it")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValidationError(
                f"{what} contains a lone surrogate ({text[exc.start]!r} at position {exc.start}), "
                "which is not valid Unicode text: fix how the text was decoded"
            ) from exc


__all__ = ["MAX_ADD_CHARS", "check_input", "check_text", "check_value", "storable", "strict_json"]
