"""Filters on metadata, scope ids and times: each operator, case by case."""

from __future__ import annotations

from typing import Any

import pytest

from engram import Memory, ValidationError

PEOPLE = [
    ("ann", {"city": "Paris", "age": 31, "vip": True, "tags": ["food", "travel"], "note": "Loves Cheese"}),
    ("ben", {"city": "Berlin", "age": 45, "vip": False, "tags": ["music"]}),
    ("cat", {"city": "paris", "age": 22, "tags": []}),
    ("dan", {"age": "45"}),  # a string, never equal to the number 45
]


@pytest.fixture
def people(memory: Memory) -> Memory:
    for name, metadata in PEOPLE:
        memory.add(name, user_id="u", infer=False, metadata=metadata)
    return memory


def names(memory: Memory, filters: dict[str, Any]) -> list[str]:
    return sorted(m["memory"] for m in memory.get_all(user_id="u", filters=filters)["results"])


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"city": "Paris"}, ["ann"]),
        ({"city": {"eq": "Paris"}}, ["ann"]),
        ({"city": {"ne": "Paris"}}, ["ben", "cat", "dan"]),  # a missing key matches ne
        ({"age": 45}, ["ben"]),  # "45" is text, not the number 45
        ({"age": "45"}, ["dan"]),
        ({"age": {"gt": 31}}, ["ben"]),
        ({"age": {"gte": 31}}, ["ann", "ben"]),
        ({"age": {"lt": 31}}, ["cat"]),
        ({"age": {"lte": 31}}, ["ann", "cat"]),
        ({"age": {"gte": 22, "lt": 45}}, ["ann", "cat"]),
        ({"city": {"in": ["Paris", "Berlin"]}}, ["ann", "ben"]),
        ({"city": {"in": []}}, []),
        ({"city": {"nin": ["Paris"]}}, ["ben", "cat", "dan"]),
        ({"tags": {"contains": "food"}}, ["ann"]),  # list membership
        ({"note": {"contains": "Cheese"}}, ["ann"]),  # substring
        ({"note": {"contains": "cheese"}}, []),
        ({"note": {"icontains": "cHEESE"}}, ["ann"]),
        ({"city": {"icontains": "PAR"}}, ["ann", "cat"]),
        ({"vip": True}, ["ann"]),
        ({"vip": False}, ["ben"]),
        ({"vip": 1}, []),  # true is not 1
        ({"missing": None}, ["ann", "ben", "cat", "dan"]),
        ({"AND": [{"city": "Paris"}, {"age": {"gt": 30}}]}, ["ann"]),
        ({"OR": [{"city": "Berlin"}, {"age": {"lt": 30}}]}, ["ben", "cat"]),
        ({"NOT": {"city": "Paris"}}, ["ben", "cat", "dan"]),
        ({"NOT": {"OR": [{"city": "Paris"}, {"city": "Berlin"}]}}, ["cat", "dan"]),
        ({"OR": [{"AND": [{"vip": True}, {"age": 31}]}, {"NOT": {"age": {"lte": 100}}}]}, ["ann", "dan"]),
    ],
)
def test_metadata_filters(people: Memory, filters: dict[str, Any], expected: list[str]) -> None:
    assert names(people, filters) == expected


def test_filters_on_times(memory: Memory) -> None:
    for day in (1, 2, 3):
        memory.add(f"day {day}", user_id="u", infer=False, timestamp=f"2024-03-0{day}T12:00:00+00:00")
    assert names(memory, {"created_at": {"gte": "2024-03-02"}}) == ["day 2", "day 3"]
    assert names(memory, {"created_at": {"lt": "2024-03-02T12:00:00Z"}}) == ["day 1"]
    assert names(memory, {"updated_at": {"lte": "2024-03-01T23:59:59"}}) == ["day 1"]


def test_filters_on_scope_ids(memory: Memory) -> None:
    memory.add("r1", user_id="u", run_id="r1", infer=False)
    memory.add("r2", user_id="u", run_id="r2", infer=False)
    memory.add("none", user_id="u", infer=False)
    assert names(memory, {"run_id": {"in": ["r1", "r2"]}}) == ["r1", "r2"]
    assert names(memory, {"run_id": {"ne": "r1"}}) == ["none", "r2"]
    assert names(memory, {"run_id": None}) == ["none"]


def test_search_applies_filters(people: Memory) -> None:
    results = people.search("who is it", user_id="u", filters={"city": {"icontains": "paris"}})["results"]
    assert sorted(r["memory"] for r in results) == ["ann", "cat"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"age": {"between": [1, 2]}}, "unknown filter operator 'between'"),
        ({"age": {"$gt": 1}}, "unknown filter operator"),
        ({"city": {"in": "Paris"}}, "takes a list"),
        ({"AND": []}, "non-empty list"),
        ({"OR": {"a": 1}}, "non-empty list"),
        ({"age": {"gt": None}}, "takes a number"),
        ({"age": {}}, "has no operator"),
        ({"created_at": {"gt": "last tuesday"}}, "ISO 8601"),
        ({"city": {"icontains": 3}}, "takes a string"),
    ],
)
def test_bad_filters_raise_validation_errors_that_say_what_to_fix(
    memory: Memory, filters: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        memory.get_all(user_id="u", filters=filters)


def test_deeply_nested_filters_are_refused(memory: Memory) -> None:
    deep: dict[str, Any] = {"city": "Paris"}
    for _ in range(400):
        deep = {"NOT": deep}
    with pytest.raises(ValidationError, match="levels deep"):
        memory.get_all(user_id="u", filters=deep)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_numbers_are_refused(memory: Memory, bad: float) -> None:
    with pytest.raises(ValidationError, match="finite"):
        memory.get_all(user_id="u", filters={"age": {"gt": bad}})
    with pytest.raises(ValidationError, match="NaN"):
        memory.add("x", user_id="u", infer=False, metadata={"age": bad})


def test_metadata_keys_with_double_quotes_are_refused(memory: Memory) -> None:
    with pytest.raises(ValidationError, match="double quotes"):
        memory.add("x", user_id="u", infer=False, metadata={'say "hi"': 1})
    with pytest.raises(ValidationError, match="double quotes"):
        memory.get_all(user_id="u", filters={'say "hi"': 1})


def test_metadata_keys_with_dots_and_spaces_work(memory: Memory) -> None:
    memory.add("x", user_id="u", infer=False, metadata={"a.b c": 1, "it's": "ok"})
    assert names(memory, {"a.b c": 1}) == ["x"]
    assert names(memory, {"it's": "ok"}) == ["x"]
