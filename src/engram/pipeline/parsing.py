"""Reading JSON out of what an LLM wrote.

Models wrap JSON in ```json fences, think aloud in <think> blocks, add prose
around it, or stop mid-object when they run out of tokens. ``parse_json_answer``
recovers the first JSON value it can and returns ``None`` when there is none,
so that callers can treat an unreadable answer as "do nothing".
"""

from __future__ import annotations

import json
import re
from typing import Any

_THINK = re.compile(r"<think(?:ing)?>.*?</think(?:ing)?>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)(?:```|$)", re.DOTALL)
_MAX_REPAIR_CUTS = 400


def parse_json_answer(text: str) -> Any | None:
    """The JSON value in ``text``, repaired if truncated, or ``None``."""
    text = _THINK.sub("", text)
    if "</think>" in text:  # an opening tag the model never printed (some chat templates add it)
        text = text.rsplit("</think>", 1)[1]
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        value = _first_json_value(candidate)
        if value is not None:
            return value
    return None


def _first_json_value(text: str) -> Any | None:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        start = match.start()
        try:
            value, _ = decoder.raw_decode(text, start)
            return value
        except json.JSONDecodeError:
            repaired = _repair_truncated(text[start:])
            if repaired is not None:
                return repaired
    return None


def _repair_truncated(text: str) -> Any | None:
    """Close a JSON document that was cut off, dropping its last incomplete element."""
    cut_points = [i for i, ch in enumerate(text) if ch in ",}]"][-_MAX_REPAIR_CUTS:]
    for cut in reversed(cut_points):
        head = text[:cut] if text[cut] == "," else text[: cut + 1]
        closers = _closers_for(head)
        if closers is None:
            continue
        try:
            return json.loads(head + closers)
        except json.JSONDecodeError:
            continue
    return None


def _closers_for(head: str) -> str | None:
    """The brackets that would close ``head``, or None if it ends inside a string."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in head:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}":
            if not stack:
                return None
            stack.pop()
    if in_string:
        return None
    return "".join(reversed(stack))
