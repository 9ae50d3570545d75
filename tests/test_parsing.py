"""Reading JSON out of what LLMs really write."""

from __future__ import annotations

import pytest

from engram.pipeline.parsing import degenerate, parse_json_answer


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


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ('{"facts": [{"text": "Lives in Porto"}], "forget": []}', None),
        ("I could not find any facts.", None),  # no JSON at all: unreadable, said elsewhere
        ('{"facts": [{"text": "Lives in Por', "cut off"),
        ('```json\n{"facts": [{"text": "x"}]', "cut off"),
        ('{"facts": [{"text": "I moved here last ' + "century " * 50 + '"}]}', "repeating itself"),
        ('{"facts": [{"text": "' + "la di da " * 20 + '"}]}', "repeating itself"),
        ('{"facts": [{"text": "Very very good"}]}', None),
    ],
)
def test_a_degenerate_answer_is_told_from_a_sound_one(answer: str, problem: str | None) -> None:
    assert degenerate(answer) == problem


def test_the_degeneracy_check_reads_a_long_answer_once() -> None:
    # Linear: at most LOOP_SPAN comparisons per word (bench/bench_guards.py measures it up to 500k chars).
    assert degenerate('{"facts": [' + ", ".join(f'{{"text": "fact {i}"}}' for i in range(4_000)) + "]}") is None
