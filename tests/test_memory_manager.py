"""The memory manager must be right: changes land, forgetting removes only what was asked.

A new user's five-add chat (Maya: Lisbon, nurse, vegetarian, a beagle; later a move, a new job and
"please forget my dog") found each of these with the offline models; here a scripted model plays
the part, since the model is not the point: engram's own handling of its answers is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engram import Memory
from engram.embedders.local_minilm import LocalMiniLM
from engram.llms.scripted import ScriptedLLM

USER = "maya"


def fact(text: str, about: str, event: str | None = None, memory: int | None = None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"text": text, "about": about, "sources": [0], "date": None, **extra}
    if event is not None:
        item |= {"event": event, "memory": memory}
    return item


def answer(*facts: dict[str, Any], forget: list[str] | None = None) -> str:
    return json.dumps({"facts": list(facts), "forget": forget or []})


def current(memory: Memory) -> list[str]:
    return sorted(item["memory"] for item in memory.get_all(user_id=USER)["results"])


@pytest.fixture
def maya(tmp_path: Path, embedder: LocalMiniLM, scripted: ScriptedLLM) -> Iterator[Memory]:
    """Maya's memory after her first chat: Lisbon, a nurse, vegetarian, a beagle."""
    config = {"vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "maya.db")}}}
    with Memory(config, embedder=embedder, llm=scripted) as memory:
        scripted.answers = [
            answer(
                fact("Maya lives in Lisbon", "Maya: home city"),
                fact("Maya works as a nurse", "Maya: job"),
                fact("Maya is vegetarian", "Maya: diet"),
                fact("Maya has a beagle named Rex", "Maya: pet"),
            )
        ]
        memory.add(
            "I'm Maya, a nurse in Lisbon. I'm vegetarian and I have a beagle called Rex.",
            user_id=USER,
            timestamp="2025-01-10T10:00:00Z",
        )
        yield memory


def test_forgetting_the_dog_retracts_the_dog_and_nothing_else_about_maya(maya: Memory, scripted: ScriptedLLM) -> None:
    # The model found nothing and asked nothing: the user's own words are the request ("my dog").
    scripted.answers = [answer()]
    result = maya.add("Please forget my dog.", user_id=USER, timestamp="2025-03-01T10:00:00Z")
    assert current(maya) == ["Maya is vegetarian", "Maya lives in Lisbon", "Maya works as a nurse"]
    assert [(r["memory"], r["event"]) for r in result["results"]] == [("Maya has a beagle named Rex", "DELETE")]
    assert [item["memory"] for item in result["forgotten"]] == ["Maya has a beagle named Rex"]
    # Retracted, not erased: still answerable as of before the request.
    assert "Maya has a beagle named Rex" in [
        m["memory"] for m in maya.get_all(user_id=USER, as_of="2025-02-01")["results"]
    ]


def test_a_forget_request_of_the_model_retracts_only_the_memories_about_what_it_names(
    maya: Memory, scripted: ScriptedLLM
) -> None:
    scripted.answers = [answer(forget=["Maya's dog"])]
    maya.add("I gave Rex to my sister, please forget about him.", user_id=USER, timestamp="2025-03-01T10:00:00Z")
    assert current(maya) == ["Maya is vegetarian", "Maya lives in Lisbon", "Maya works as a nurse"]


def test_a_move_the_model_calls_update_without_a_target_supersedes_the_old_city(
    maya: Memory, scripted: ScriptedLLM
) -> None:
    scripted.answers = [answer(fact("Maya moved to Porto", "Maya: city of residence", "UPDATE", None))]
    result = maya.add("I moved to Porto!", user_id=USER, timestamp="2025-04-01T10:00:00Z")
    assert [(r["event"], r["memory"], r.get("previous_memory")) for r in result["results"]] == [
        ("UPDATE", "Maya moved to Porto", "Maya lives in Lisbon")
    ]
    assert "Maya lives in Lisbon" not in current(maya)
    found = maya.search("Where does Maya live?", user_id=USER, limit=3)["results"]
    assert found[0]["memory"] == "Maya moved to Porto"
    assert "Maya lives in Lisbon" in [m["memory"] for m in maya.get_all(user_id=USER, as_of="2025-03-01")["results"]]


def test_a_new_value_of_an_attribute_that_holds_one_supersedes_even_when_the_model_says_add(
    maya: Memory, scripted: ScriptedLLM
) -> None:
    scripted.answers = [answer(fact("Maya works as a midwife at Santa Maria", "Maya: job", "ADD", None))]
    maya.add("New job: I'm a midwife at Santa Maria now.", user_id=USER, timestamp="2025-05-01T10:00:00Z")
    assert "Maya works as a nurse" not in current(maya)
    assert "Maya works as a midwife at Santa Maria" in current(maya)


def test_a_new_value_of_an_attribute_that_holds_many_goes_beside_the_old_one(
    maya: Memory, scripted: ScriptedLLM
) -> None:
    scripted.answers = [answer(fact("Maya adopted a cat named Miso", "Maya: pet", "ADD", None))]
    maya.add("We adopted a cat, Miso!", user_id=USER, timestamp="2025-05-01T10:00:00Z")
    assert {"Maya has a beagle named Rex", "Maya adopted a cat named Miso"} <= set(current(maya))


def test_another_persons_attribute_never_supersedes_the_users(maya: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [answer(fact("Maya's sister Ana lives in Porto", "Ana: home city", "ADD", None))]
    maya.add("My sister Ana lives in Porto.", user_id=USER, timestamp="2025-05-01T10:00:00Z")
    assert {"Maya lives in Lisbon", "Maya's sister Ana lives in Porto"} <= set(current(maya))


# -- no degenerate generations -------------------------------------------------------------------

LOOP = '{"facts": [{"text": "I moved here last ' + "century " * 300 + '"}]'  # cut off mid-loop, as the 0.5B did


def test_a_looping_answer_is_asked_again_with_a_tighter_budget(maya: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [LOOP, answer(fact("Maya moved to Porto", "Maya: home city", "UPDATE", 0))]
    result = maya.add("I moved here last month, to Porto.", user_id=USER, timestamp="2025-04-01T10:00:00Z")
    assert "Maya moved to Porto" in current(maya)
    assert result["usage"]["calls"] == 2
    retry = scripted.calls[-1]
    assert retry.json_schema is not None
    assert (
        retry.json_schema["properties"]["facts"]["maxItems"]
        < scripted.calls[-2].json_schema["properties"]["facts"]["maxItems"]
    )


def test_when_the_second_answer_is_degenerate_too_the_add_keeps_its_messages_and_says_so(
    maya: Memory, scripted: ScriptedLLM
) -> None:
    scripted.answers = [LOOP, '{"facts": [{"text": "Maya moved to']
    result = maya.add("I moved here last month, to Porto.", user_id=USER, timestamp="2025-04-01T10:00:00Z")
    assert [w for w in result["warnings"] if "repeating itself, and cut off" in w]
    # No fact was extracted; what Maya said is kept as she said it (as with infer=False), not lost.
    assert current(maya) == [
        "I moved here last month, to Porto.",
        "Maya has a beagle named Rex",
        "Maya is vegetarian",
        "Maya lives in Lisbon",
        "Maya works as a nurse",
    ]


def test_the_prompts_example_copied_into_an_answer_is_not_stored(maya: Memory, scripted: ScriptedLLM) -> None:
    # The 1.5B model wrote "User works as a carpenter" (the prompt's example) into a chat about a roommate.
    scripted.answers = [
        answer(
            fact("User works as a carpenter", "User: job", "UPDATE", 1),
            fact("User's sister Ana lives in Porto", "Ana: home city"),
            fact("Maya's roommate works late", "Maya: roommate"),
        )
    ]
    result = maya.add("My new roommate works late, he's a chef.", user_id=USER)
    assert "Maya works as a nurse" in current(maya)
    assert not {"User works as a carpenter", "User's sister Ana lives in Porto"} & set(current(maya))
    assert sum("no message of this add says" in warning for warning in result["warnings"]) == 2


def test_a_fact_naming_only_people_and_places_nobody_mentioned_is_not_stored(
    maya: Memory, scripted: ScriptedLLM
) -> None:
    scripted.answers = [answer(fact("Maya's cousin Ravi lives in Goa", "Ravi: home city"))]
    maya.add("My cousin is visiting next week, he lives far away.", user_id=USER)
    assert not any("Ravi" in text for text in current(maya))


def test_an_update_may_take_its_names_from_the_memory_it_changes(maya: Memory, scripted: ScriptedLLM) -> None:
    # "Lisbon" is not in the message; the memory shown to the model says it.
    scripted.answers = [answer(fact("Maya lives in Lisbon, now near the river", "Maya: home city", "UPDATE", 0))]
    maya.add("Where I live changed a bit: new flat, same city, near the river.", user_id=USER)
    assert "Maya lives in Lisbon, now near the river" in current(maya)
    assert "Maya lives in Lisbon" not in current(maya)


def test_a_message_asking_to_forget_keeps_none_of_its_sentences_as_said(maya: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [answer()]  # the model wrote nothing down and missed the request
    maya.add(
        "Oops, I just pasted our staging key in that last snippet: 7f3ac19e5b. Please forget it, I'm rotating it.",
        user_id=USER,
    )
    assert not any("7f3ac19e5b" in text for text in current(maya))
