"""timestamp=, expiration_date= and the dates that search indexes and returns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engram import Memory, ValidationError


@pytest.mark.parametrize(
    "timestamp",
    [
        "2023-05-08T13:56:00+00:00",
        "2023-05-08T13:56:00Z",
        datetime(2023, 5, 8, 13, 56, tzinfo=UTC),
        1683554160,
    ],
)
def test_timestamp_becomes_created_at(memory: Memory, timestamp: object) -> None:
    memory.add("went hiking", user_id="u", infer=False, timestamp=timestamp)  # type: ignore[arg-type]
    assert memory.get_all(user_id="u")["results"][0]["created_at"] == "2023-05-08T13:56:00.000000+00:00"


def test_a_bad_timestamp_says_what_is_accepted(memory: Memory) -> None:
    with pytest.raises(ValidationError, match="ISO 8601"):
        memory.add("x", user_id="u", infer=False, timestamp="yesterday")


def test_the_date_is_searchable(memory: Memory) -> None:
    memory.add("Went to a pottery class", user_id="u", infer=False, timestamp="2023-07-02T10:00:00Z")
    memory.add("Went to a cooking class", user_id="u", infer=False, timestamp="2023-08-15T10:00:00Z")
    top = memory.search("What class did I go to in July 2023?", user_id="u", limit=1)["results"][0]
    assert top["memory"] == "Went to a pottery class"


def test_expired_memories_are_hidden_from_search_and_get_all(memory: Memory) -> None:
    yesterday = date.today() - timedelta(days=1)
    tomorrow = date.today() + timedelta(days=1)
    memory.add("old coupon code SAVE10", user_id="u", infer=False, expiration_date=yesterday.isoformat())
    kept = memory.add("new coupon code SAVE20", user_id="u", infer=False, expiration_date=tomorrow)
    assert [m["memory"] for m in memory.get_all(user_id="u")["results"]] == ["new coupon code SAVE20"]
    assert [m["memory"] for m in memory.search("coupon code", user_id="u")["results"]] == ["new coupon code SAVE20"]
    assert memory.get(kept["results"][0]["id"]) is not None


def test_a_memory_expiring_today_is_still_visible_today(memory: Memory) -> None:
    memory.add("today only", user_id="u", infer=False, expiration_date=date.today().isoformat())
    assert len(memory.get_all(user_id="u")["results"]) == 1
