"""Reading JSON out of what LLMs really write."""

from __future__ import annotations

import pytest

from engram.pipeline.parsing import parse_json_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"facts": ["a"]}', {"facts": ["a"]}),
        ('```json\n{"facts": ["a"]}\n```', {"facts": ["a"]}),
        ("```\n[1, 2]\n```", [1, 2]),
        ('<think>maybe {"x": 1}</think>{"facts": []}', {"facts": []}),
        ('reasoning without an opening tag</think>\n{"ok": true}', {"ok": True}),
        ('Here you go: {"a": 1} Anything else?', {"a": 1}),
        ('{"facts": ["a", "b", "c', {"facts": ["a", "b"]}),
        (
            '{"decisions": [{"fact": 0, "event": "ADD"}, {"fact": 1',
            {"decisions": [{"fact": 0, "event": "ADD"}]},
        ),
        ('{"a": {"b": [1, 2', {"a": {"b": [1]}}),
        ('{"text": "a } tricky ] string", "n": 1', {"text": "a } tricky ] string"}),
    ],
)
def test_recovers_the_json(text: str, expected: object) -> None:
    assert parse_json_answer(text) == expected


@pytest.mark.parametrize("text", ["", "no json at all", "{", "[[[", '<think>{"a": 1}</think>'])
def test_returns_none_when_there_is_nothing_to_read(text: str) -> None:
    assert parse_json_answer(text) is None
