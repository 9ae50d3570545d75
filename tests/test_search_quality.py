"""The retrieval choices of search.py, one behaviour each (their measured gains: bench/bench_recall.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engram import Memory, search
from engram.models import Scope, utcnow
from engram.search import in_the_users_name, neighbours, with_previous_turn
from engram.storage.base import Query

CHAT = [
    {"role": "user", "content": "Do you still go climbing at the quarry?"},
    {"role": "assistant", "content": "Yes, every Sunday morning!"},
    {"role": "user", "content": "My cousin is visiting from Oslo."},
]


def test_neighbours_are_the_turns_on_each_side() -> None:
    texts = ["a", "b", "c", "d", "e", "f"]
    assert neighbours(texts, 0) == ["b", "c"]
    assert neighbours(texts, 3) == ["b", "c", "e", "f"]
    assert neighbours(texts, 5, span=1) == ["e"]


def _keyword_hits(memory: Memory, text: str) -> list[str]:
    """The keyword side of search alone."""
    hits = memory.store.keyword_search(Query(Scope(user_id="u"), None, utcnow()), text, 10)
    records = memory.store.get_memories([memory_id for memory_id, _ in hits])
    return [records[memory_id].memory for memory_id, _ in hits]


def test_a_verbatim_turn_is_keyword_indexed_with_its_neighbours(memory: Memory) -> None:
    memory.add(CHAT, user_id="u", infer=False)
    assert "Yes, every Sunday morning!" in _keyword_hits(memory, "When does she go climbing at the quarry?")


def test_a_memory_stored_alone_has_no_context(memory: Memory) -> None:
    memory.add("Yes, every Sunday morning!", user_id="u", infer=False)
    assert _keyword_hits(memory, "climbing quarry") == []


def test_a_metadata_update_keeps_the_context_and_a_text_update_drops_it(memory: Memory) -> None:
    added = memory.add(CHAT, user_id="u", infer=False)["results"]
    answer = next(item["id"] for item in added if item["memory"].startswith("Yes"))
    memory.update(answer, metadata={"topic": "sport"})
    assert "Yes, every Sunday morning!" in _keyword_hits(memory, "climbing quarry")
    memory.update(answer, data="Yes, every Saturday morning!")
    assert "Yes, every Saturday morning!" not in _keyword_hits(memory, "climbing quarry")


def test_a_turn_vector_leans_towards_the_previous_turn() -> None:
    own = np.array([1.0, 0.0], dtype=np.float32)
    before = np.array([0.0, 1.0], dtype=np.float32)
    mixed = with_previous_turn(own, before)
    assert np.linalg.norm(mixed) == pytest.approx(1.0)
    assert mixed[0] > 0.9 and 0 < mixed[1] < 0.3
    assert with_previous_turn(own, None) is own


def test_a_named_message_keeps_its_speaker_as_the_actor(memory: Memory) -> None:
    memory.add([{"role": "user", "name": "Ana", "content": "I paint on Sundays."}], user_id="u", infer=False)
    memory.add([{"role": "user", "content": "No name here."}], user_id="u", infer=False)
    memory.add([{"role": "user", "name": "Ana", "content": "Mine."}], user_id="u", actor_id="bo", infer=False)
    actors = {item["memory"]: item.get("actor_id") for item in memory.get_all(user_id="u")["results"]}
    assert actors == {"I paint on Sundays.": "Ana", "No name here.": None, "Mine.": "bo"}


def test_the_query_naming_a_speaker_lifts_what_that_speaker_said(
    memory: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = [
        {"role": "user", "name": "Ben", "content": "Ana told me she paints landscapes."},
        {"role": "user", "name": "Ana", "content": "I paint landscapes on Sundays."},
    ]
    memory.add(chat, user_id="u", infer=False)

    def scores() -> dict[str, float]:
        found = memory.search("What does Ana paint?", user_id="u", limit=2)["results"]
        return {item["actor_id"]: item["score"] for item in found}

    boosted = scores()
    monkeypatch.setattr(search, "DEFAULT_WEIGHTS", replace(search.DEFAULT_WEIGHTS, speaker=0.0))
    plain = scores()
    assert boosted["Ana"] - plain["Ana"] == pytest.approx(0.1)
    assert boosted["Ben"] == pytest.approx(plain["Ben"])


@pytest.mark.parametrize(
    ("user_id", "embedded"),
    [
        ("keiko", "Keiko works as an accountant; Keiko's sister is Hana"),
        ("keiko@example.com", "Keiko works as an accountant; Keiko's sister is Hana"),
        ("john_smith", "John Smith works as an accountant; John Smith's sister is Hana"),
        ("u-42", "User works as an accountant; User's sister is Hana"),
        ("a.b.c.d", "User works as an accountant; User's sister is Hana"),
        (None, "User works as an accountant; User's sister is Hana"),
    ],
)
def test_a_fact_about_the_user_is_embedded_under_the_name_the_scope_gives_them(
    user_id: str | None, embedded: str
) -> None:
    # Questions name the user ("Where does Keiko work?"); extracted facts say "User". Messages kept
    # as said say "I" and are untouched, so the question itself is embedded as asked.
    assert in_the_users_name("User works as an accountant; User's sister is Hana", user_id) == embedded
    assert in_the_users_name("Username and Users stay", "keiko") == "Username and Users stay"
