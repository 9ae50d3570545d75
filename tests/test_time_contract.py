"""Time, versions and episodes (DESIGN.md section 1b), on every backend.

Part of the backend contract: like tests/test_store_contract.py, every test here runs on SQLite and on
PostgreSQL + pgvector. The LLM's UPDATE and DELETE decisions come from a scripted LLM.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from conftest_pg import MemoryFactory, StoreFactory
from engram import AsyncMemory, Memory, NotFoundError, ValidationError
from engram.embedders.hashing import HashingEmbedder
from engram.llms.scripted import ScriptedLLM
from engram.models import MemoryRecord, Scope, memory_hash

T1 = datetime(2024, 1, 10, 9, tzinfo=UTC)
T2 = datetime(2024, 3, 5, 18, tzinfo=UTC)
T3 = datetime(2024, 6, 1, 12, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def facts(*texts: str, sources: list[int] | None = None) -> str:
    return json.dumps({"facts": [{"text": t, **({"sources": sources} if sources else {})} for t in texts]})


def decide(event: str, text: str | None = None) -> str:
    decision: dict[str, Any] = {"fact": 0, "event": event, "memory_id": "0"}
    if text:
        decision["text"] = text
    return json.dumps({"decisions": [decision]})


@pytest.fixture
def llm() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def m(memory_factory: MemoryFactory, llm: ScriptedLLM) -> Memory:
    # A custom update prompt keeps extraction and decisions in two calls, the shape these scripts answer.
    return memory_factory(llm=llm, custom_update_memory_prompt="Decide ADD, UPDATE, DELETE or NONE per fact.")


def texts(result: dict[str, Any]) -> list[str]:
    return [item["memory"] for item in result["results"]]


@pytest.fixture
def moved(m: Memory, llm: ScriptedLLM) -> str:
    """Maya lived in Lisbon from T1; an add at T2 superseded it with Porto. Returns the memory id."""
    llm.answers = [facts("Maya lives in Lisbon")]
    [added] = m.add("I live in Lisbon", user_id="maya", timestamp=T1)["results"]
    llm.answers = [facts("Maya lives in Porto"), decide("UPDATE", "Maya lives in Porto")]
    [updated] = m.add("I moved to Porto", user_id="maya", timestamp=T2)["results"]
    assert (updated["event"], updated["id"]) == ("UPDATE", added["id"])
    assert updated["previous_memory"] == "Maya lives in Lisbon"
    return str(added["id"])


# -- supersede -----------------------------------------------------------------------------------


def test_an_llm_update_supersedes_and_keeps_the_id(m: Memory, moved: str) -> None:
    item = m.get(moved)
    assert item is not None
    assert item["memory"] == "Maya lives in Porto"
    assert (item["valid_from"], item["invalid_at"]) == (iso(T2), None)
    assert (item["created_at"], item["updated_at"]) == (iso(T1), iso(T2))
    assert texts(m.get_all(user_id="maya")) == ["Maya lives in Porto"]


def test_the_store_lists_the_earlier_versions(m: Memory, moved: str) -> None:
    [version] = m.store.list_versions(moved)
    assert (version.id, version.memory, version.valid_from, version.invalid_at) == (
        moved,
        "Maya lives in Lisbon",
        T1,
        T2,
    )


def test_the_superseded_text_is_answerable_as_of_earlier_times(m: Memory, moved: str) -> None:
    [then] = m.get_all(user_id="maya", as_of=T2 - TICK)["results"]
    assert (then["id"], then["memory"]) == (moved, "Maya lives in Lisbon")
    assert (then["valid_from"], then["invalid_at"]) == (iso(T1), iso(T2))
    [hit] = m.search("Where does Maya live?", user_id="maya", as_of=T2 - TICK)["results"]
    assert (hit["id"], hit["memory"]) == (moved, "Maya lives in Lisbon")
    assert hit["score"] > 0


def test_as_of_edges_are_inclusive_at_valid_from_and_exclusive_at_invalid_at(m: Memory, moved: str) -> None:
    assert texts(m.get_all(user_id="maya", as_of=T1)) == ["Maya lives in Lisbon"]
    assert texts(m.get_all(user_id="maya", as_of=T1 - TICK)) == []
    assert texts(m.get_all(user_id="maya", as_of=T2)) == ["Maya lives in Porto"]
    assert texts(m.search("Lisbon Porto", user_id="maya", as_of=T2)) == ["Maya lives in Porto"]
    assert texts(m.search("Lisbon Porto", user_id="maya", as_of=T1 - TICK)) == []


def test_current_search_never_returns_the_superseded_text(m: Memory, moved: str) -> None:
    assert texts(m.search("Lisbon", user_id="maya")) == ["Maya lives in Porto"]


def test_history_takes_its_times_from_the_adds(m: Memory, moved: str) -> None:
    rows = m.history(moved)
    assert [(r["event"], r["created_at"]) for r in rows] == [("ADD", iso(T1)), ("UPDATE", iso(T2))]
    assert rows[1]["updated_at"] == iso(T2)
    assert {(r["user_id"], r["agent_id"], r["run_id"]) for r in rows} == {("maya", None, None)}


# -- retract -------------------------------------------------------------------------------------


def test_an_llm_delete_retracts(m: Memory, llm: ScriptedLLM, moved: str) -> None:
    llm.answers = [facts("Maya no longer lives in Porto"), decide("DELETE")]
    [retracted] = m.add("I left Porto", user_id="maya", timestamp=T3)["results"]
    assert (retracted["event"], retracted["id"]) == ("DELETE", moved)
    assert m.get_all(user_id="maya")["results"] == []
    assert m.search("Porto", user_id="maya")["results"] == []
    item = m.get(moved)
    assert item is not None and (item["memory"], item["invalid_at"]) == ("Maya lives in Porto", iso(T3))
    assert texts(m.get_all(user_id="maya", as_of=T3 - TICK)) == ["Maya lives in Porto"]
    assert texts(m.search("Porto", user_id="maya", as_of=T3 - TICK)) == ["Maya lives in Porto"]
    assert texts(m.get_all(user_id="maya", as_of=T3)) == []
    assert texts(m.get_all(user_id="maya", as_of=T1)) == ["Maya lives in Lisbon"]
    assert [(r["event"], r["created_at"], r["is_deleted"]) for r in m.history(moved)][-1] == ("DELETE", iso(T3), False)


def test_a_retracted_fact_restated_is_stored_again(m: Memory, llm: ScriptedLLM) -> None:
    llm.answers = [facts("Maya is vegetarian")]
    [first] = m.add("I'm vegetarian", user_id="maya", timestamp=T1)["results"]
    llm.answers = [facts("Maya is no longer vegetarian"), decide("DELETE")]
    assert m.add("I eat fish again", user_id="maya", timestamp=T2)["results"][0]["event"] == "DELETE"
    again = m.add("Maya is vegetarian", user_id="maya", infer=False, timestamp=T3)["results"]
    assert again[0]["event"] == "ADD" and again[0]["id"] != first["id"]
    assert texts(m.get_all(user_id="maya")) == ["Maya is vegetarian"]


def test_a_retracted_memory_is_not_shown_to_the_llm_again(m: Memory, llm: ScriptedLLM) -> None:
    llm.answers = [facts("Maya likes jazz")]
    m.add("I like jazz", user_id="maya", timestamp=T1)
    llm.answers = [facts("Maya likes jazz a lot"), decide("DELETE")]
    assert m.add("meh", user_id="maya", timestamp=T2)["results"][0]["event"] == "DELETE"
    llm.answers = [facts("Maya likes jazz music")]  # nothing current to compare with: an ADD, no decision call
    [added] = m.add("jazz!", user_id="maya", timestamp=T3)["results"]
    assert added["event"] == "ADD"


# -- the user's update and delete ---------------------------------------------------------------------


def test_update_with_a_timestamp_is_a_new_version(m: Memory) -> None:
    memory_id = m.add("Works as a nurse", user_id="u", infer=False, timestamp=T1)["results"][0]["id"]
    m.update(memory_id, "Works as a doctor", timestamp=T2)
    assert texts(m.get_all(user_id="u")) == ["Works as a doctor"]
    assert texts(m.get_all(user_id="u", as_of=T2 - TICK)) == ["Works as a nurse"]
    assert texts(m.search("nurse doctor", user_id="u", as_of=T1)) == ["Works as a nurse"]
    [update] = [r for r in m.history(memory_id) if r["event"] == "UPDATE"]
    assert (update["created_at"], update["old_memory"], update["new_memory"]) == (
        iso(T2),
        "Works as a nurse",
        "Works as a doctor",
    )


def test_update_without_a_timestamp_corrects_in_place(m: Memory) -> None:
    memory_id = m.add("Works as a nurse", user_id="u", infer=False, timestamp=T1)["results"][0]["id"]
    m.update(memory_id, "Works as a midwife")
    item = m.get(memory_id)
    assert item is not None and item["valid_from"] == iso(T1)
    assert texts(m.get_all(user_id="u", as_of=T1)) == ["Works as a midwife"]  # it was wrong all along
    assert m.history(memory_id)[-1]["old_memory"] == "Works as a nurse"


def test_update_with_a_timestamp_before_the_current_text_keeps_it_as_the_earlier_version(m: Memory) -> None:
    memory_id = m.add("Lives in Porto", user_id="u", infer=False, timestamp=T2)["results"][0]["id"]
    m.update(memory_id, "Lives in Lisbon", timestamp=T1)
    assert texts(m.get_all(user_id="u")) == ["Lives in Porto"]
    assert texts(m.get_all(user_id="u", as_of=T1)) == ["Lives in Lisbon"]
    assert texts(m.get_all(user_id="u", as_of=T2)) == ["Lives in Porto"]


def test_delete_erases_every_version(m: Memory, moved: str) -> None:
    m.delete(moved)
    assert m.get(moved) is None
    for as_of in (None, T1, T2):
        assert m.get_all(user_id="maya", as_of=as_of)["results"] == []
        assert m.search("Lisbon Porto", user_id="maya", as_of=as_of)["results"] == []
    assert m.history(moved)[-1]["event"] == "DELETE" and m.history(moved)[-1]["is_deleted"] is True
    with pytest.raises(NotFoundError):
        m.episodes(moved)


def test_delete_all_erases_versions_and_episodes_of_the_scope(m: Memory, moved: str) -> None:
    m.add("kept for someone else", user_id="other", infer=False)
    m.delete_all(user_id="maya")
    assert m.get_all(user_id="maya", as_of=T1)["results"] == []
    assert m.search("Lisbon", user_id="maya", as_of=T1)["results"] == []
    assert m.store.list_episodes(Scope(user_id="maya")) == []
    assert [e.content for e in m.store.list_episodes(Scope(user_id="other"))] == ["kept for someone else"]


# -- as_of arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize("as_of", ["2024-03-05", date(2024, 3, 5), "2024-03-05T23:59:59Z", T2 + timedelta(hours=5)])
def test_a_date_means_the_end_of_that_day(m: Memory, moved: str, as_of: Any) -> None:
    assert texts(m.get_all(user_id="maya", as_of=as_of)) == ["Maya lives in Porto"]


@pytest.mark.parametrize("as_of", ["2024-03-04", "2024-03-05T17:59:59+00:00", "2024-03-05T19:59:59+02:00"])
def test_the_day_before_or_an_earlier_moment_is_before(m: Memory, moved: str, as_of: Any) -> None:
    assert texts(m.get_all(user_id="maya", as_of=as_of)) == ["Maya lives in Lisbon"]


@pytest.mark.parametrize("as_of", ["last week", 20240305, "2024-13-01"])
def test_a_bad_as_of_says_what_is_accepted(m: Memory, as_of: Any) -> None:
    with pytest.raises(ValidationError, match="as_of"):
        m.get_all(user_id="u", as_of=as_of)
    with pytest.raises(ValidationError, match="as_of"):
        m.search("x", user_id="u", as_of=as_of)


def test_as_of_keeps_filters_and_hides_what_had_expired_by_then(m: Memory) -> None:
    m.add("coupon A", user_id="u", infer=False, timestamp=T1, expiration_date="2024-02-01", metadata={"k": 1})
    m.add("coupon B", user_id="u", infer=False, timestamp=T1, metadata={"k": 2})
    assert set(texts(m.get_all(user_id="u", as_of="2024-01-20"))) == {"coupon A", "coupon B"}
    assert texts(m.get_all(user_id="u", as_of="2024-02-02")) == ["coupon B"]
    assert texts(m.get_all(user_id="u", as_of="2024-01-20", filters={"k": 1})) == ["coupon A"]
    assert texts(m.search("coupon", user_id="u", as_of="2024-01-20", filters={"k": 2})) == ["coupon B"]


# -- episodes ----------------------------------------------------------------------------------------


def test_every_message_becomes_an_episode_linked_to_its_memory(m: Memory) -> None:
    turns = [
        {"role": "user", "content": "Guess what", "name": "Maya"},
        {"role": "assistant", "content": "What?"},
        {"role": "user", "content": "I adopted a parrot", "name": "Maya"},
    ]
    results = m.add(turns, user_id="maya", run_id="chat-1", infer=False, timestamp=T1)["results"]
    parrot = results[2]["id"]
    [episode] = m.episodes(parrot)
    assert {k: episode[k] for k in ("role", "name", "content", "created_at", "user_id", "run_id")} == {
        "role": "user",
        "name": "Maya",
        "content": "I adopted a parrot",
        "created_at": iso(T1),
        "user_id": "maya",
        "run_id": "chat-1",
    }
    listed = m.store.list_episodes(Scope(user_id="maya"))
    assert [(e.content, e.position) for e in listed] == [("Guess what", 0), ("What?", 1), ("I adopted a parrot", 2)]
    assert m.store.episode_memories([listed[2].id, listed[0].id]) == {
        listed[2].id: [parrot],
        listed[0].id: [results[0]["id"]],
    }


def test_inferred_facts_link_the_messages_they_came_from(m: Memory, llm: ScriptedLLM) -> None:
    llm.answers = [facts("Maya adopted a parrot", sources=[1])]
    turns = [{"role": "user", "content": "Hi there"}, {"role": "user", "content": "I adopted a parrot"}]
    [added] = m.add(turns, user_id="maya", timestamp=T1)["results"]
    assert [e["content"] for e in m.episodes(added["id"])] == ["I adopted a parrot"]
    assert len(m.store.list_episodes(Scope(user_id="maya"))) == 2  # every message is kept, used or not


def test_a_superseding_add_links_its_episode_too(m: Memory, moved: str) -> None:
    assert [e["content"] for e in m.episodes(moved)] == ["I live in Lisbon", "I moved to Porto"]


def test_procedural_and_system_messages_are_episodes_too(m: Memory, llm: ScriptedLLM) -> None:
    llm.answers = [json.dumps({"summary": "Booked flight LH123 to Rome."})]
    log = [
        {"role": "system", "content": "You book flights"},
        {"role": "user", "content": "Book me a flight to Rome"},
        {"role": "assistant", "content": "Found LH123"},
    ]
    [summary] = m.add(log, agent_id="bot", memory_type="procedural_memory")["results"]
    assert [e["role"] for e in m.episodes(summary["id"])] == ["system", "user", "assistant"]
    assert [s.content for s in m.store.recent_messages(Scope(agent_id="bot"), 10)] == [
        "Book me a flight to Rome",
        "Found LH123",
    ]


def test_list_episodes_pages_back_in_time(m: Memory) -> None:
    for day in range(5):
        m.add(f"day {day} note", user_id="u", infer=False, timestamp=T1 + timedelta(days=day))
    scope = Scope(user_id="u")
    assert [e.content for e in m.store.list_episodes(scope, limit=2)] == ["day 3 note", "day 4 note"]
    before = T1 + timedelta(days=3)
    assert [e.content for e in m.store.list_episodes(scope, before=before, limit=2)] == ["day 1 note", "day 2 note"]


def test_a_duplicate_add_still_keeps_its_episode(m: Memory) -> None:
    m.add("Likes tea", user_id="u", infer=False, timestamp=T1)
    m.add("Likes tea", user_id="u", infer=False, timestamp=T2)
    assert [e.created_at for e in m.store.list_episodes(Scope(user_id="u"))] == [T1, T2]


def test_episodes_of_an_unknown_memory_is_not_found(m: Memory) -> None:
    with pytest.raises(NotFoundError):
        m.episodes("no-such-id")


# -- what was said, beside the facts (search(..., episodes=n)) ------------------------------------------


def said(result: dict[str, Any]) -> list[str]:
    return [episode["content"] for episode in result["episodes"]]


def test_search_returns_what_was_said_beyond_the_facts(m: Memory, llm: ScriptedLLM) -> None:
    """A small model kept one fact of three turns: the other two stay reachable as episodes."""
    llm.answers = [facts("Maya adopted a parrot", sources=[0])]
    turns = [
        {"role": "user", "content": "I adopted a parrot named Kiwi", "name": "Maya"},
        {"role": "user", "content": "Kiwi screams at the kettle every morning", "name": "Maya"},
        {"role": "user", "content": "My neighbour plays the cello", "name": "Maya"},
    ]
    m.add(turns, user_id="maya", timestamp=T1)
    result = m.search("What does Kiwi do in the morning?", user_id="maya", limit=1, episodes=2)
    assert texts(result) == ["Maya adopted a parrot"]
    # The fact's own message is left out (the result carries it); the kettle turn is the best match.
    assert said(result) == ["Kiwi screams at the kettle every morning"]
    [episode] = result["episodes"]
    assert (episode["name"], episode["created_at"], episode["score"], episode["memory_ids"]) == (
        "Maya",
        iso(T1),
        1.0,
        [],
    )
    assert "episodes" not in m.search("Kiwi", user_id="maya")  # only when asked for


def test_episode_search_keeps_to_the_scope_and_the_time(m: Memory) -> None:
    m.add("Ana plays the cello", user_id="ana", infer=False, timestamp=T1)
    m.add("Bo plays the cello too", user_id="bo", infer=False, timestamp=T2)
    m.add("Ana sold the cello", user_id="ana", infer=False, timestamp=T3)
    search = m.search("cello", user_id="ana", limit=1, episodes=5)
    assert sorted(said(search) + texts(search)) == ["Ana plays the cello", "Ana sold the cello"]
    before = m.search("cello", user_id="ana", limit=1, episodes=5, as_of=T2)
    assert texts(before) == ["Ana plays the cello"] and said(before) == []  # "sold" was said later


def test_a_retracted_fact_does_not_come_back_as_an_episode(m: Memory, llm: ScriptedLLM, moved: str) -> None:
    llm.answers = [facts("Maya no longer lives in Porto"), decide("DELETE")]
    assert m.add("Forget that, I left", user_id="maya", timestamp=T3)["results"][0]["event"] == "DELETE"
    assert texts(m.search("Where does Maya live?", user_id="maya")) == []
    # What the retracted memory came from ("I live in Lisbon", "I moved to Porto") stays out.
    assert said(m.search("Lisbon Porto", user_id="maya", episodes=5)) == []
    # Before the retraction, it is the result and its messages are its own.
    before = m.search("Lisbon Porto", user_id="maya", episodes=5, as_of=T3 - TICK)
    assert texts(before) == ["Maya lives in Porto"] and said(before) == []
    unmatched = m.search("Lisbon Porto", user_id="maya", episodes=5, as_of=T3 - TICK, threshold=2.0)
    assert sorted(said(unmatched)) == ["I live in Lisbon", "I moved to Porto"]


def test_delete_erases_the_episodes_that_produced_nothing_else(m: Memory) -> None:
    [kept, erased] = m.add(
        [{"role": "user", "content": "I like tea"}, {"role": "user", "content": "My PIN is 4321"}],
        user_id="u",
        infer=False,
        timestamp=T1,
    )["results"]
    m.delete(erased["id"])
    assert [e.content for e in m.store.list_episodes(Scope(user_id="u"))] == ["I like tea"]
    assert said(m.search("PIN", user_id="u", episodes=5)) == []
    assert [e["content"] for e in m.episodes(kept["id"])] == ["I like tea"]


def test_delete_keeps_an_episode_that_produced_other_memories(m: Memory, llm: ScriptedLLM) -> None:
    llm.answers = [facts("Likes tea", "Likes biscuits", sources=[0])]
    tea, biscuits = m.add("I like tea with biscuits", user_id="u", timestamp=T1)["results"]
    m.delete(tea["id"])
    assert [e["content"] for e in m.episodes(biscuits["id"])] == ["I like tea with biscuits"]


@pytest.mark.parametrize("episodes", [-1, 1.5, True, "3", 10_001])
def test_a_bad_episodes_count_says_what_is_accepted(m: Memory, episodes: Any) -> None:
    with pytest.raises(ValidationError, match="episodes must be a whole number"):
        m.search("x", user_id="u", episodes=episodes)


def test_async_memory_has_episodes_and_as_of(store_factory: StoreFactory) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], list[str]]:
        async with AsyncMemory(store=store_factory(), embedder=HashingEmbedder()) as am:
            memory_id = (await am.add("Owns a bike", user_id="u", infer=False, timestamp=T1))["results"][0]["id"]
            await am.update(memory_id, "Owns a car", timestamp=T2)
            return await am.episodes(memory_id), texts(await am.get_all(user_id="u", as_of=T1))

    episodes, old = asyncio.run(scenario())
    assert [e["content"] for e in episodes] == ["Owns a bike"]
    assert old == ["Owns a bike"]


def test_a_record_carrying_its_own_valid_from_keeps_it(m: Memory) -> None:
    """Extraction may date a fact before the conversation ("I moved here last week"): the store honours it."""
    record = MemoryRecord(
        id="dated",
        memory="Moved to Porto",
        hash=memory_hash("Moved to Porto"),
        created_at=T2,
        valid_from=T1,
        user_id="u",
    )
    with m.store.transaction():
        m.store.insert_memory(record, m.embedder.embed_batch([record.memory])[0], record.memory)
    [item] = m.get_all(user_id="u", as_of=T1)["results"]
    assert (item["id"], item["valid_from"], item["created_at"]) == ("dated", iso(T1), iso(T2))


def test_reset_erases_versions_and_episodes(m: Memory, moved: str) -> None:
    m.reset()
    assert m.store.list_versions(moved) == []
    assert m.store.list_episodes(Scope(user_id="maya")) == []
    assert m.get_all(user_id="maya", as_of=T1)["results"] == []
