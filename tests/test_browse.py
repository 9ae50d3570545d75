"""Browsing a store (what the dashboard shows): scopes with counts, and sorted pages. Runs on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram import Memory, ValidationError

DAY = datetime(2024, 1, 1, 12, tzinfo=UTC)


def _add(memory: Memory, text: str, days: int, **scope: str) -> str:
    result = memory.add(text, infer=False, timestamp=DAY + timedelta(days=days), **scope)
    return str(result["results"][0]["id"])


def test_scopes_lists_every_id_with_its_count(backend_memory: Memory) -> None:
    _add(backend_memory, "alice likes tea", 0, user_id="alice")
    _add(backend_memory, "alice likes cake", 1, user_id="alice", run_id="r1")
    _add(backend_memory, "the bot speaks french", 2, agent_id="bot")
    assert backend_memory.scopes()["results"] == [
        {"kind": "agent_id", "id": "bot", "count": 1},
        {"kind": "run_id", "id": "r1", "count": 1},
        {"kind": "user_id", "id": "alice", "count": 2},
    ]


def test_scopes_leave_out_expired_and_deleted_memories(backend_memory: Memory) -> None:
    backend_memory.add("old plan", user_id="u", infer=False, expiration_date="2000-01-01")
    gone = _add(backend_memory, "deleted", 0, user_id="v")
    backend_memory.delete(gone)
    assert backend_memory.scopes()["results"] == []


def test_scope_ids_sort_by_code_point_on_every_backend(backend_memory: Memory) -> None:
    for name in ["b", "B", "a", "Zoë", "ä"]:
        _add(backend_memory, f"note of {name}", 0, user_id=name)
    assert [s["id"] for s in backend_memory.scopes()["results"]] == ["B", "Zoë", "a", "b", "ä"]


def test_browse_pages_newest_first_with_the_total(backend_memory: Memory) -> None:
    ids = [_add(backend_memory, f"fact {i}", i, user_id="u") for i in range(5)]
    first = backend_memory.browse(user_id="u", limit=2)
    second = backend_memory.browse(user_id="u", limit=2, offset=2)
    last = backend_memory.browse(user_id="u", limit=2, offset=4)
    assert [m["id"] for m in first["results"] + second["results"] + last["results"]] == ids[::-1]
    assert (first["total"], first["offset"], first["limit"]) == (5, 0, 2)


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("created_at", "asc", ["b", "a", "C"]),
        ("memory", "asc", ["C", "a", "b"]),  # code-point order: upper case first, on every backend
        ("memory", "desc", ["b", "a", "C"]),
        ("updated_at", "desc", ["b", "a", "C"]),  # corrected last, then corrected first, then never
    ],
)
def test_browse_sorts_server_side(backend_memory: Memory, sort: str, order: str, expected: list[str]) -> None:
    _add(backend_memory, "b", 0, user_id="u")
    a = _add(backend_memory, "a", 1, user_id="u")
    _add(backend_memory, "C", 2, user_id="u")
    backend_memory.update(a, metadata={"touched": True})
    for item in backend_memory.get_all(user_id="u")["results"]:
        if item["memory"] == "b":
            backend_memory.update(item["id"], metadata={"touched": True})
    page = backend_memory.browse(user_id="u", sort=sort, order=order)
    assert [m["memory"] for m in page["results"]] == expected


def test_browse_applies_filters_to_the_page_and_the_total(backend_memory: Memory) -> None:
    for i in range(6):
        backend_memory.add(f"item {i}", user_id="u", infer=False, metadata={"n": i})
    page = backend_memory.browse(user_id="u", filters={"n": {"gte": 3}}, limit=2, sort="memory", order="asc")
    assert [m["memory"] for m in page["results"]] == ["item 3", "item 4"]
    assert page["total"] == 3


def test_browse_stays_inside_the_scope(backend_memory: Memory) -> None:
    _add(backend_memory, "mine", 0, user_id="u")
    _add(backend_memory, "theirs", 0, user_id="v")
    page = backend_memory.browse(user_id="u")
    assert [m["memory"] for m in page["results"]] == ["mine"] and page["total"] == 1


def test_an_offset_past_the_end_is_an_empty_page(backend_memory: Memory) -> None:
    backend_memory.add("one fact", user_id="u", infer=False)
    page = backend_memory.browse(user_id="u", offset=2**53)
    assert (page["results"], page["total"]) == ([], 1)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"sort": "score"}, "sort must be one of"),
        ({"order": "up"}, "order must be"),
        ({"offset": -1}, "offset must be"),
        ({"offset": 2**64}, "offset must be"),  # beyond a 64-bit integer: found by schemathesis
        ({"limit": 0}, "limit"),
    ],
)
def test_browse_refuses_bad_arguments(backend_memory: Memory, arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        backend_memory.browse(user_id="u", **arguments)  # type: ignore[arg-type]


def test_browse_needs_a_scope(backend_memory: Memory) -> None:
    with pytest.raises(ValidationError, match="a scope is required"):
        backend_memory.browse()


def test_browse_as_of_pages_through_the_versions_valid_then(backend_memory: Memory) -> None:
    moved = _add(backend_memory, "Alice lives in Lisbon", 0, user_id="alice")
    _add(backend_memory, "Alice plays chess", 10, user_id="alice")
    backend_memory.update(moved, "Alice lives in Porto", timestamp=DAY + timedelta(days=100))

    def texts(**arguments: object) -> list[str]:
        return [m["memory"] for m in backend_memory.browse(user_id="alice", sort="memory", **arguments)["results"]]  # type: ignore[arg-type]

    assert texts(order="asc") == ["Alice lives in Porto", "Alice plays chess"]
    assert texts(order="asc", as_of=DAY + timedelta(days=50)) == ["Alice lives in Lisbon", "Alice plays chess"]
    assert texts(as_of=DAY + timedelta(days=5)) == ["Alice lives in Lisbon"]
    assert backend_memory.browse(user_id="alice", as_of=DAY - timedelta(days=1))["total"] == 0
    then = backend_memory.browse(user_id="alice", as_of=DAY + timedelta(days=50), limit=1, offset=1, order="asc")
    assert [m["memory"] for m in then["results"]] == ["Alice plays chess"] and then["total"] == 2
