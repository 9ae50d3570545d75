"""Every store returns what the pure-Python reference (``filters.matches``) says a filter selects.

Hypothesis writes the filter trees; one set of memories with varied metadata is stored once per
backend. ``ENGRAM_HYPOTHESIS_EXAMPLES`` raises the number of trees (the campaign ran it long).
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest_pg import MemoryFactory
from engram import Memory, ValidationError
from engram.storage.filters import MAX_FILTER_VALUES, matches, parse_filters

EXAMPLES = int(os.environ.get("ENGRAM_HYPOTHESIS_EXAMPLES", "60"))
START = datetime(2024, 3, 1, tzinfo=UTC)

STRINGS = ["x", "X", "xy", "abc", "Zürich", "", "1", "a b", "ÉCOLE"]
NUMBERS = [-1, 0, 1, 2, 10, 0.5, 1.0, 2.5, -3.25]
SCALARS: list[Any] = [*STRINGS, *NUMBERS, True, False, None]
TIMES = [(START + timedelta(days=d, hours=h)).isoformat() for d in (-1, 0, 3, 7, 40) for h in (0, 5)]
METADATA_KEYS = ["a", "b", "tags", "missing"]
COLUMN_KEYS = ["actor_id", "role"]


def _memories() -> list[tuple[str, dict[str, Any], str | None, str, datetime]]:
    """Text, metadata, speaker, role and time of each stored memory (the same every run)."""
    rng = random.Random(7)
    rows = []
    for i in range(40):
        metadata: dict[str, Any] = {}
        for key in ("a", "b"):
            if rng.random() < 0.8:
                metadata[key] = rng.choice(SCALARS)
        if rng.random() < 0.6:
            metadata["tags"] = rng.sample([*STRINGS, *NUMBERS, True, None], rng.randint(0, 4))
        speaker = rng.choice(["ann", "bob", "Ann", None])
        role = rng.choice(["user", "assistant"])
        rows.append((f"memory number {i}", metadata, speaker, role, START + timedelta(days=i, hours=i % 7)))
    return rows


@pytest.fixture
def stored(memory_factory: MemoryFactory) -> tuple[Memory, list[dict[str, Any]]]:
    memory = memory_factory()
    for text, metadata, speaker, role, when in _memories():
        message = {"role": role, "content": text, **({"name": speaker} if speaker else {})}
        memory.add([message], user_id="u", metadata=metadata, infer=False, timestamp=when)
    items = memory.get_all(user_id="u", limit=1000)["results"]
    assert len(items) == 40
    return memory, items


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    scalar = st.sampled_from(SCALARS)
    comparable = st.sampled_from([*STRINGS, *NUMBERS])
    metadata = st.sampled_from(METADATA_KEYS)
    columns = st.sampled_from(COLUMN_KEYS)
    some_keys = metadata | columns
    return st.one_of(
        st.builds(lambda k, v: {k: v}, metadata, scalar),
        st.builds(lambda k, op, v: {k: {op: v}}, metadata, st.sampled_from(["eq", "ne"]), scalar),
        # A scope id given as a top-level equality must be a non-empty string (it narrows the scope).
        st.builds(lambda k, v: {k: v}, columns, st.sampled_from([*(s for s in STRINGS if s), "ann", "bob", None])),
        st.builds(lambda k, v: {k: {"ne": v}}, columns, scalar),
        st.builds(lambda k, op, v: {k: {op: v}}, some_keys, st.sampled_from(["gt", "gte", "lt", "lte"]), comparable),
        st.builds(
            lambda k, op, v: {k: {op: v}}, some_keys, st.sampled_from(["in", "nin"]), st.lists(scalar, max_size=4)
        ),
        st.builds(lambda k, v: {k: {"contains": v}}, some_keys, st.sampled_from([*STRINGS, *NUMBERS, True, False])),
        st.builds(lambda k, v: {k: {"icontains": v}}, some_keys, st.sampled_from(STRINGS)),
        st.builds(
            lambda op, v: {"created_at": {op: v}},
            st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
            st.sampled_from(TIMES),
        ),
        st.builds(lambda v: {"created_at": {"contains": v}}, st.sampled_from(["2024-03", "T05", "+00:00", "x"])),
    )


FILTERS = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.builds(lambda parts: {"AND": parts}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda parts: {"OR": parts}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda part: {"NOT": part}, inner),
    ),
    max_leaves=8,
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(filters=FILTERS)
def test_every_store_returns_what_the_reference_returns(
    stored: tuple[Memory, list[dict[str, Any]]], filters: dict[str, Any]
) -> None:
    memory, items = stored
    tree = parse_filters(filters)
    assert tree is not None
    expected = sorted(item["id"] for item in items if matches(tree, item))
    found = sorted(item["id"] for item in memory.get_all(user_id="u", filters=filters, limit=1000)["results"])
    assert found == expected, filters


def test_a_long_in_list_works_on_every_store(stored: tuple[Memory, list[dict[str, Any]]]) -> None:
    memory, items = stored
    values = [f"value {i}" for i in range(MAX_FILTER_VALUES - 10)] + ["x", 1]
    filters = {"OR": [{"a": {"in": values}}, {"b": True}]}
    tree = parse_filters(filters)
    assert tree is not None
    expected = sorted(item["id"] for item in items if matches(tree, item))
    found = sorted(item["id"] for item in memory.get_all(user_id="u", filters=filters, limit=1000)["results"])
    assert found == expected


def test_two_thousand_or_terms_work_on_every_store(stored: tuple[Memory, list[dict[str, Any]]]) -> None:
    memory, items = stored
    filters = {"OR": [{"a": i} for i in range(2000)] + [{"a": "x"}]}
    tree = parse_filters(filters)
    assert tree is not None
    expected = sorted(item["id"] for item in items if matches(tree, item))
    found = sorted(item["id"] for item in memory.get_all(user_id="u", filters=filters, limit=1000)["results"])
    assert found == expected and expected


@pytest.mark.parametrize(
    "filters",
    [
        {"a": 2**63},
        {"a": {"gt": -(2**63) - 1}},
        {"a": {"in": [1, 2**70]}},
        {"a": {"in": [{"x": 1}]}},
        {"a": {"nin": [[1]]}},
        {"a": {"eq": {"x": 1}}},
        {"a": [1, 2]},
        {"a": {"in": list(range(MAX_FILTER_VALUES + 1))}},
        {"OR": [{"a": i} for i in range(50_000)]},
    ],
)
def test_filter_values_no_store_can_use_are_the_same_validation_error(
    backend_memory: Memory, filters: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        backend_memory.get_all(user_id="u", filters=filters)
    with pytest.raises(ValidationError):
        backend_memory.search("q", user_id="u", filters=filters)
