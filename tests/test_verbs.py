"""The verbs of DESIGN.md section 1, with mem0's argument names and result shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram import Memory, NotFoundError, ValidationError

ITEM_KEYS = {"id", "memory", "hash", "metadata", "created_at", "updated_at", "user_id"}


def test_add_infer_false_stores_each_message_verbatim(memory: Memory) -> None:
    result = memory.add(
        [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "I am allergic to peanuts"},
            {"role": "assistant", "content": "Noted, no peanuts."},
        ],
        user_id="alice",
        infer=False,
    )
    assert [(r["memory"], r["event"]) for r in result["results"]] == [
        ("I am allergic to peanuts", "ADD"),
        ("Noted, no peanuts.", "ADD"),
    ]
    stored = memory.get(result["results"][0]["id"])
    assert stored is not None
    assert stored.keys() >= ITEM_KEYS
    assert stored["role"] == "user"


def test_add_accepts_a_plain_string_and_a_single_message_dict(memory: Memory) -> None:
    memory.add("Likes green tea", user_id="u", infer=False)
    memory.add({"role": "user", "content": "Plays the cello"}, user_id="u", infer=False)
    assert sorted(m["memory"] for m in memory.get_all(user_id="u")["results"]) == [
        "Likes green tea",
        "Plays the cello",
    ]


def test_search_finds_the_relevant_memory_first_with_a_score(memory: Memory) -> None:
    for text in ["I am allergic to peanuts", "My favourite city is Kyoto", "I play tennis on Sundays"]:
        memory.add(text, user_id="u", infer=False)
    results = memory.search("which food allergy do I have?", user_id="u", limit=2)["results"]
    assert results[0]["memory"] == "I am allergic to peanuts"
    assert len(results) == 2
    assert results[0]["score"] >= results[1]["score"]
    assert ITEM_KEYS | {"score"} <= results[0].keys()


def test_search_top_k_is_an_alias_of_limit(memory: Memory) -> None:
    for i in range(5):
        memory.add(f"fact number {i}", user_id="u", infer=False)
    assert len(memory.search("fact", user_id="u", top_k=3)["results"]) == 3


def test_search_threshold_drops_weak_matches(memory: Memory) -> None:
    memory.add("I am allergic to peanuts", user_id="u", infer=False)
    memory.add("The stock market fell sharply", user_id="u", infer=False)
    results = memory.search("peanut allergy", user_id="u", threshold=0.4)["results"]
    assert [r["memory"] for r in results] == ["I am allergic to peanuts"]


def test_get_all_takes_scope_inside_filters_like_mem0(memory: Memory) -> None:
    memory.add("one", user_id="u", infer=False)
    memory.add("two", user_id="v", infer=False)
    assert [m["memory"] for m in memory.get_all(filters={"user_id": "u"})["results"]] == ["one"]


def test_get_all_is_newest_first_and_limited(memory: Memory) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for day in range(5):
        memory.add(f"day {day}", user_id="u", infer=False, timestamp=start + timedelta(days=day))
    results = memory.get_all(user_id="u", limit=3)["results"]
    assert [r["memory"] for r in results] == ["day 4", "day 3", "day 2"]


def test_get_unknown_id_is_none(memory: Memory) -> None:
    assert memory.get("no-such-id") is None


def test_update_changes_text_and_keeps_created_at(memory: Memory) -> None:
    memory_id = memory.add("Lives in Paris", user_id="u", infer=False, timestamp="2023-01-01")["results"][0]["id"]
    assert memory.update(memory_id, data="Lives in Berlin") == {"message": "Memory updated successfully!"}
    item = memory.get(memory_id)
    assert item is not None
    assert item["memory"] == "Lives in Berlin"
    assert item["created_at"].startswith("2023-01-01")
    assert item["updated_at"] > item["created_at"]
    assert memory.search("Berlin", user_id="u")["results"][0]["id"] == memory_id


def test_update_accepts_text_keyword_and_metadata(memory: Memory) -> None:
    memory_id = memory.add("Likes jazz", user_id="u", infer=False)["results"][0]["id"]
    memory.update(memory_id, text="Likes bebop jazz", metadata={"genre": "music"})
    item = memory.get(memory_id)
    assert item is not None
    assert (item["memory"], item["metadata"]) == ("Likes bebop jazz", {"genre": "music"})


def test_update_and_delete_of_unknown_id_raise_not_found(memory: Memory) -> None:
    with pytest.raises(NotFoundError, match="no memory has id"):
        memory.update("missing", data="x")
    with pytest.raises(NotFoundError):
        memory.delete("missing")


def test_update_needs_something_to_change(memory: Memory) -> None:
    memory_id = memory.add("x", user_id="u", infer=False)["results"][0]["id"]
    with pytest.raises(ValidationError, match="needs new text"):
        memory.update(memory_id)


def test_delete_removes_the_memory_from_every_read(memory: Memory) -> None:
    memory_id = memory.add("Secret hobby: knitting", user_id="u", infer=False)["results"][0]["id"]
    assert memory.delete(memory_id) == {"message": "Memory deleted successfully!"}
    assert memory.get(memory_id) is None
    assert memory.get_all(user_id="u")["results"] == []
    assert memory.search("knitting", user_id="u")["results"] == []


def test_delete_all_requires_a_scope(memory: Memory) -> None:
    with pytest.raises(ValidationError, match="scope is required"):
        memory.delete_all()


def test_reset_empties_everything(memory: Memory) -> None:
    memory_id = memory.add("x", user_id="u", infer=False)["results"][0]["id"]
    memory.reset()
    assert memory.get(memory_id) is None
    assert memory.history(memory_id) == []
    memory.add("usable after reset", user_id="u", infer=False)
    assert len(memory.get_all(user_id="u")["results"]) == 1


def test_adding_the_same_text_twice_stores_it_once(memory: Memory) -> None:
    first = memory.add("Likes green tea", user_id="u", infer=False)["results"][0]
    second = memory.add("Likes green tea", user_id="u", infer=False)["results"][0]
    assert second == {"id": first["id"], "memory": "Likes green tea", "event": "NONE"}
    assert len(memory.get_all(user_id="u")["results"]) == 1


def test_metadata_round_trips(memory: Memory) -> None:
    memory.add("x", user_id="u", infer=False, metadata={"category": "food", "tags": ["a", "b"], "rating": 4.5})
    assert memory.get_all(user_id="u")["results"][0]["metadata"] == {
        "category": "food",
        "tags": ["a", "b"],
        "rating": 4.5,
    }


@pytest.mark.parametrize("timestamp", [None, "2024-05-01T10:00:00+00:00"])
def test_an_update_that_changes_nothing_writes_nothing(memory: Memory, timestamp: str | None) -> None:
    memory_id = memory.add("Lives in Lisbon", user_id="u", infer=False)["results"][0]["id"]
    memory.update(memory_id, "Lives in Lisbon", timestamp=timestamp)
    memory.update(memory_id, "  Lives in Lisbon ", metadata={}, timestamp=timestamp)
    assert [row["event"] for row in memory.history(memory_id)] == ["ADD"]
    assert memory.store.list_versions(memory_id) == []
    assert memory.get(memory_id)["updated_at"] == memory.get(memory_id)["created_at"]


def test_add_refuses_a_prompt_that_is_not_text(memory: Memory) -> None:
    with pytest.raises(ValidationError, match="prompt must be a string"):
        memory.add("Likes tea", user_id="u", prompt=5)  # type: ignore[arg-type]
