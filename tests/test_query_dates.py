"""Explicit dates in a query become a range of days; memories dated inside it are lifted."""

from __future__ import annotations

from datetime import date

import pytest

from engram import Memory
from engram.query_dates import query_date_range


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What did she cook on 8th December, 2023?", (date(2023, 12, 8), date(2023, 12, 8))),
        ("Which team did he join on March 3, 2021?", (date(2021, 3, 3), date(2021, 3, 3))),
        ("What did he buy in Sept. 2022?", (date(2022, 9, 1), date(2022, 9, 30))),
        ("Where did they travel in February 2024?", (date(2024, 2, 1), date(2024, 2, 29))),
        ("What happened during 2019?", (date(2019, 1, 1), date(2019, 12, 31))),
    ],
)
def test_a_query_names_a_range_of_days(text: str, expected: tuple[date, date]) -> None:
    assert query_date_range(text) == expected


@pytest.mark.parametrize("text", ["May I ask what she cooks?", "What did he do in December?", "Call me at 1200"])
def test_no_range_without_an_explicit_date(text: str) -> None:
    assert query_date_range(text) is None


def test_an_impossible_day_falls_back_to_its_month() -> None:
    assert query_date_range("on 31 February, 2023") == (date(2023, 2, 1), date(2023, 2, 28))


def test_a_memory_of_the_named_day_is_lifted(memory: Memory) -> None:
    memory.add("We baked bread together.", user_id="u", infer=False, timestamp="2023-04-02T10:00:00Z")
    memory.add("We baked bread together again.", user_id="u", infer=False, timestamp="2023-06-11T10:00:00Z")
    found = memory.search("What did we bake on 11 June, 2023?", user_id="u", limit=2, explain=True)["results"]
    assert found[0]["memory"] == "We baked bread together again."
    assert found[0]["explain"]["dated"] > 0 and found[1]["explain"]["dated"] == 0
