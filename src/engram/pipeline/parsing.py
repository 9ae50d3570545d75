"""Reading JSON out of what an LLM wrote.

Models wrap JSON in ```json fences, think aloud in <think> blocks, add prose
around it, or stop mid-object when they run out of tokens. ``parse_json_answer``
recovers the first JSON value it can and returns ``None`` when there is none,
so that callers can treat an unreadable answer as "do nothing".
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

# Tempered: a block never spans another opening tag, so many unclosed tags cost one pass, not n².
_THINK = re.compile(r"<think(?:ing)?>(?:(?!<think).)*?</think(?:ing)?>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)(?:```|$)", re.DOTALL)
MAX_ANSWER_CHARS = 100_000  # no prompt asks for more; the rest of a longer answer is ignored
MAX_ANSWER_DEPTH = 32  # nesting of the JSON value; no answer schema nests more than 4 deep
_MAX_STARTS = 16  # opening brackets tried as the start of the value
_MAX_REPAIRS = 2  # of those, the first ones tried as truncated values
_MAX_REPAIR_CUTS = 64  # places a truncated value is tried to be closed at

# Every step below is linear in the text, and the number of steps is bounded: 50 KB of junk
# from a model costs milliseconds, not minutes.


LOOP_REPEATS = 4  # a run of words said this many times in a row is a loop, not a fact
LOOP_SPAN = 8  # longest run of words checked for repeats


def degenerate(text: str) -> str | None:
    """Why an answer cannot be trusted whole, or None: "cut off" when its JSON is incomplete (the
    model ran out of tokens) or "repeating itself" when it loops ("… last … century … century …").
    Linear in the answer: at most ``LOOP_SPAN`` comparisons per word."""
    words = text[:MAX_ANSWER_CHARS].split()
    for span in range(1, LOOP_SPAN + 1):
        run = 0
        for i in range(span, len(words)):
            run = run + 1 if words[i] == words[i - span] else 0
            if run >= span * (LOOP_REPEATS - 1):
                return "repeating itself"
    stripped = _THINK.sub("", text[:MAX_ANSWER_CHARS]).strip()
    fenced = _FENCE.search(stripped)
    body = (fenced.group(1) if fenced else stripped).strip()
    start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None  # no JSON at all: unreadable, not degenerate (the caller says so)
    try:
        json.JSONDecoder().raw_decode(body, start)
    except json.JSONDecodeError:
        return "cut off"
    except (ValueError, RecursionError):
        return None  # whole, but unreadable (too deep, a huge number): the caller says so
    return None


def parse_json_answer(text: str) -> Any | None:
    """The JSON value in ``text``, repaired if truncated, or ``None``."""
    text = _THINK.sub("", text[:MAX_ANSWER_CHARS])
    if "</think>" in text:  # an opening tag the model never printed (some chat templates add it)
        text = text.rsplit("</think>", 1)[1]
    candidates = [*[m.group(1) for m in _FENCE.finditer(text)][:_MAX_STARTS], text]
    for candidate in candidates:
        value = _first_json_value(candidate)
        if value is not None:
            return value
    return None


def _first_json_value(text: str) -> Any | None:
    decoder = json.JSONDecoder()
    end = 0
    for attempt, match in enumerate(itertools.islice(re.finditer(r"[\[{]", text), _MAX_STARTS)):
        start = match.start()
        if start < end:  # inside a value already read (and refused as too deep)
            continue
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):  # ValueError: JSONDecodeError, or an integer over 4,300 digits
            # A truncated answer is repaired where it starts (the first brackets), not anywhere.
            value = _repair_truncated(text[start:]) if attempt < _MAX_REPAIRS else None
        if value is not None and _depth_at_most(value, MAX_ANSWER_DEPTH):
            return value
    return None


def _repair_truncated(text: str) -> Any | None:
    """Close a JSON document that was cut off, dropping its last incomplete element."""
    for head, closers in reversed(_cut_points(text)):
        try:
            return json.loads(head + closers)
        except (ValueError, RecursionError):
            continue
    return None


def _cut_points(text: str) -> list[tuple[str, str]]:
    """The last ``_MAX_REPAIR_CUTS`` places after which the value could be closed (before a comma,
    or after a closing bracket), each with the brackets that would close it there."""
    cuts: list[int] = []
    depth = 0
    for index, ch in _structure(text):
        depth += 1 if ch in "[{" else -1 if ch in "]}" else 0
        if not 0 <= depth <= MAX_ANSWER_DEPTH:  # nothing after this parses, or is shallow enough
            break
        if ch not in "[{":
            cuts.append(index)
    wanted = set(cuts[-_MAX_REPAIR_CUTS:])
    points: list[tuple[str, str]] = []
    stack: list[str] = []
    for index, ch in _structure(text):
        if ch in "[{":
            stack.append("]" if ch == "[" else "}")
            continue
        if ch != "," and stack:
            stack.pop()
        if index in wanted:
            points.append((text[: index + (ch != ",")], "".join(reversed(stack))))
            if len(points) == len(wanted):
                break
    return points


def _structure(text: str) -> Iterator[tuple[int, str]]:
    """The brackets and commas of ``text`` that are outside JSON strings, with their positions."""
    in_string = escaped = False
    for index, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[]{},":
            yield index, ch


def _depth_at_most(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and dicts at most ``limit`` deep (walked without recursion)."""
    level: list[Any] = [value]
    for _ in range(limit + 1):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())
        ]
        if not level:
            return True
    return False
