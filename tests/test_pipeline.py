"""add(infer=True): extraction, reconciliation and the safety checks around the LLM's answers.

The LLM is a ScriptedLLM that replays canned answers in order. By default one call per
add extracts the facts and, when stored memories are near the messages, decides for each
fact what it does to them. With a custom extraction or update prompt the extraction and
the decisions are two calls (``two_call_memory``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engram import ConfigError, Memory, ValidationError
from engram.embedders.local_minilm import LocalMiniLM
from engram.llms.scripted import ScriptedLLM


def facts(*texts: str) -> str:
    return json.dumps({"facts": [{"text": t, "sources": [0]} for t in texts]})


def decisions(*items: dict[str, Any]) -> str:
    return json.dumps({"decisions": list(items)})


def decided(*items: tuple[str, str, int | None]) -> str:
    """A one-call answer: facts, each with its event and the small id of the memory it concerns."""
    return json.dumps(
        {"facts": [{"text": t, "sources": [0], "event": e, "memory": m} for t, e, m in items], "forget": []}
    )


def stored(memory: Memory, user: str = "u") -> list[str]:
    return sorted(m["memory"] for m in memory.get_all(user_id=user)["results"])


def test_new_facts_are_added_without_a_second_llm_call(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Is vegetarian", "Allergic to peanuts")]
    result = smart_memory.add("I'm vegetarian and allergic to peanuts", user_id="u")
    assert [(r["memory"], r["event"]) for r in result["results"]] == [
        ("Is vegetarian", "ADD"),
        ("Allergic to peanuts", "ADD"),
    ]
    assert len(scripted.calls) == 1
    assert scripted.calls[0].json_schema is not None
    assert result["usage"]["calls"] == 1
    assert smart_memory.usage.calls == 1


def test_a_changed_fact_updates_the_memory_in_the_same_single_call(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Lives in Paris")]
    memory_id = smart_memory.add("I live in Paris", user_id="u", timestamp="2023-01-01")["results"][0]["id"]
    scripted.answers = [decided(("Lives in Berlin", "UPDATE", 0))]
    result = smart_memory.add("I moved to Berlin", user_id="u")
    assert result["results"] == [
        {"id": memory_id, "memory": "Lives in Berlin", "event": "UPDATE", "previous_memory": "Lives in Paris"}
    ]
    item = smart_memory.get(memory_id)
    assert item is not None and item["created_at"].startswith("2023-01-01")
    assert [h["event"] for h in smart_memory.history(memory_id)] == ["ADD", "UPDATE"]
    assert result["usage"]["calls"] == 1
    assert "[0] Lives in Paris" in scripted.calls[-1].messages[1]["content"]


def test_the_llm_sees_small_ids_never_real_ones(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Likes jazz")]
    real_id = smart_memory.add("I like jazz", user_id="u")["results"][0]["id"]
    scripted.answers = [decided(("Likes jazz a lot", "NONE", 0))]
    smart_memory.add("I really like jazz", user_id="u")
    prompt = json.dumps(scripted.calls[-1].messages)
    assert real_id not in prompt
    assert "[0] Likes jazz" in prompt


def test_a_contradiction_retracts_the_targeted_memory(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Likes steak", "Plays chess")]
    smart_memory.add("I like steak and chess", user_id="u")
    scripted.answers = [
        lambda messages: decided(("No longer eats steak", "DELETE", _small_id("Likes steak", messages)))
    ]
    result = smart_memory.add("I don't eat steak anymore", user_id="u")
    assert [(r["memory"], r["event"]) for r in result["results"]] == [("Likes steak", "DELETE")]
    assert stored(smart_memory) == ["Plays chess"]


def test_an_exact_duplicate_fact_skips_the_reconcile_call(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Has a dog named Rex")]
    smart_memory.add("My dog is Rex", user_id="u")
    scripted.answers = [facts("Has a dog named Rex")]
    result = smart_memory.add("Rex is my dog", user_id="u")
    assert [r["event"] for r in result["results"]] == ["NONE"]
    assert len(scripted.calls) == 2  # one call per add
    assert stored(smart_memory) == ["Has a dog named Rex"]


def test_nothing_worth_remembering_stores_nothing(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts()]
    assert smart_memory.add("hi!", user_id="u")["results"] == []
    assert stored(smart_memory) == []


# -- answers the LLM may really give ------------------------------------------------------------

EXTRACTION_ANSWERS = {
    "fenced": '```json\n{"facts": [{"text": "Owns a red bike"}]}\n```',
    "think": '<think>The user mentions a bike. {"not": "this"}</think>\n{"facts": ["Owns a red bike"]}',
    "prose": 'Sure! Here are the facts:\n{"facts": [{"text": "Owns a red bike"}]}\nAnything else?',
    "truncated": '{"facts": [{"text": "Owns a red bike"}, {"text": "Rides it to wo',
}


@pytest.mark.parametrize("answer", EXTRACTION_ANSWERS.values(), ids=EXTRACTION_ANSWERS.keys())
def test_extraction_answers_are_repaired(smart_memory: Memory, scripted: ScriptedLLM, answer: str) -> None:
    scripted.answers = [answer]
    smart_memory.add("I ride my red bike", user_id="u")
    assert stored(smart_memory) == ["Owns a red bike"]


@pytest.mark.parametrize("answer", ["", "I cannot help with that.", "{}", '{"facts": "none"}', "[[[["])
def test_unreadable_extraction_stores_nothing_and_warns(
    smart_memory: Memory, scripted: ScriptedLLM, answer: str
) -> None:
    scripted.answers = [answer]
    result = smart_memory.add("I ride my red bike", user_id="u")
    assert result["results"] == []
    assert stored(smart_memory) == []


@pytest.fixture
def two_memories(smart_memory: Memory, scripted: ScriptedLLM) -> Memory:
    scripted.answers = [facts("Likes tennis", "Works as a nurse")]
    smart_memory.add("I like tennis and I'm a nurse", user_id="u")
    return smart_memory


ONE_CALL_ANSWERS = {
    "unknown small id": decided(("Plays tennis every week", "DELETE", 7)),
    "no id": decided(("Plays tennis every week", "DELETE", None)),
    "unknown event": json.dumps({"facts": [{"text": "Plays tennis", "event": "DESTROY", "memory": 0}]}),
    "string id": json.dumps({"facts": [{"text": "Plays tennis", "event": "DELETE", "memory": "tennis"}]}),
    "truncated": '{"facts": [{"text": "Plays tennis every week", "event": "DELETE", "memo',
    "prose only": "Both memories look outdated, I would delete them.",
    "fenced think": '<think>delete all?</think>```json\n{"facts": []}\n```',
    "mem0 format": json.dumps({"memory": [{"id": "0", "text": "Likes tennis", "event": "DELETE"}]}),
    "off-subject delete": decided(("Owns a red bike", "DELETE", 1)),
}


@pytest.mark.parametrize("answer", ONE_CALL_ANSWERS.values(), ids=ONE_CALL_ANSWERS.keys())
def test_no_answer_retracts_a_memory_it_did_not_clearly_target(
    two_memories: Memory, scripted: ScriptedLLM, answer: str
) -> None:
    scripted.answers = [answer]
    two_memories.add("I play tennis every week and I have a red bike", user_id="u")
    assert {"Likes tennis", "Works as a nurse"} <= set(stored(two_memories))


def test_an_update_of_an_unknown_id_becomes_an_add(two_memories: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [decided(("Plays tennis every week", "UPDATE", 42))]
    result = two_memories.add("I play tennis weekly", user_id="u")
    assert [(r["memory"], r["event"]) for r in result["results"]] == [("Plays tennis every week", "ADD")]
    assert "warnings" in result
    assert stored(two_memories) == ["Likes tennis", "Plays tennis every week", "Works as a nurse"]


def test_a_fact_without_a_decision_is_added(two_memories: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Plays tennis every week")]  # no event: the model skipped the decision
    two_memories.add("I play tennis weekly", user_id="u")
    assert stored(two_memories) == ["Likes tennis", "Plays tennis every week", "Works as a nurse"]


def test_an_unreadable_answer_changes_nothing_and_says_so(two_memories: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = ["I'm sorry, I can't do that."]
    result = two_memories.add("I play tennis every week", user_id="u")
    assert result["results"] == []
    assert any("no list of facts" in w for w in result["warnings"])
    assert stored(two_memories) == ["Likes tennis", "Works as a nurse"]


# -- the two-call path of custom prompts: extraction, then decisions ----------------------------


@pytest.fixture
def two_call_memory(tmp_path: Path, embedder: LocalMiniLM, scripted: ScriptedLLM) -> Iterator[Memory]:
    config = {
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "two.db")}},
        "custom_update_memory_prompt": "Decide for each new fact: ADD, UPDATE, DELETE or NONE.",
    }
    with Memory(config, embedder=embedder, llm=scripted) as memory:
        scripted.answers = [facts("Likes tennis", "Works as a nurse")]
        memory.add("I like tennis and I'm a nurse", user_id="u")
        yield memory


RECONCILE_ANSWERS = {
    "unknown small id": decisions({"fact": 0, "event": "DELETE", "memory_id": "7"}),
    "real-looking id": decisions({"fact": 0, "event": "DELETE", "memory_id": "2f1c0b5e-0000-4000-8000-000000000000"}),
    "non-numeric id": decisions({"fact": 0, "event": "DELETE", "memory_id": "tennis"}),
    "no id": decisions({"fact": 0, "event": "DELETE"}),
    "unknown fact": decisions({"fact": 5, "event": "DELETE", "memory_id": "0"}),
    "unknown event": decisions({"fact": 0, "event": "DESTROY", "memory_id": "0"}),
    "truncated": '{"decisions": [{"fact": 0, "event": "DELETE", "memory_',
    "prose only": "Both memories look outdated, I would delete them.",
    "fenced think": '<think>delete all?</think>```json\n{"decisions": []}\n```',
    "mem0 format": json.dumps({"memory": [{"id": "9", "text": "Likes tennis", "event": "DELETE"}]}),
}


@pytest.mark.parametrize("answer", RECONCILE_ANSWERS.values(), ids=RECONCILE_ANSWERS.keys())
def test_no_decision_retracts_a_memory_it_did_not_clearly_target(
    two_call_memory: Memory, scripted: ScriptedLLM, answer: str
) -> None:
    scripted.answers = [facts("Plays tennis every week"), answer]
    two_call_memory.add("I play tennis every week", user_id="u")
    assert {"Likes tennis", "Works as a nurse"} <= set(stored(two_call_memory))


def test_two_calls_an_update_that_changes_nothing_is_none(two_call_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [
        facts("Enjoys tennis"),
        lambda messages: decisions(
            {
                "fact": 0,
                "event": "UPDATE",
                "memory_id": _small_id_quoted("Likes tennis", messages),
                "text": "Likes tennis",
            }
        ),
    ]
    result = two_call_memory.add("tennis is fun", user_id="u")
    assert [(r["memory"], r["event"]) for r in result["results"]] == [("Likes tennis", "NONE")]
    assert result["usage"]["calls"] == 2


def test_two_calls_an_unreadable_decision_changes_nothing_and_says_so(
    two_call_memory: Memory, scripted: ScriptedLLM
) -> None:
    scripted.answers = [facts("Plays tennis every week"), "I'm sorry, I can't do that."]
    result = two_call_memory.add("I play tennis every week", user_id="u")
    assert result["results"] == []
    assert any("unreadable" in w for w in result["warnings"])


def _small_id(text: str, messages: list[dict[str, Any]]) -> int:
    """The small id the one-call prompt gives the memory ``text``."""
    for line in messages[-1]["content"].splitlines():
        if line.endswith(f"] {text}") and line.startswith("["):
            return int(line[1 : line.index("]")])
    raise AssertionError(f"{text!r} was not shown")


def _small_id_quoted(text: str, messages: list[dict[str, Any]]) -> str:
    """The small id the two-call decision prompt gives the memory ``text``."""
    for line in messages[-1]["content"].splitlines():
        if line.endswith(f": {text}"):
            return line.split('"')[1]
    raise AssertionError(f"{text!r} was not shown")


# -- prompts, dates, sources ---------------------------------------------------------------------


def test_the_timestamp_is_the_reference_date_for_extraction(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Went to Rome on 2023-05-07")]
    smart_memory.add("I went to Rome yesterday", user_id="u", timestamp="2023-05-08T09:00:00Z")
    assert "Conversation date: 2023-05-08" in scripted.calls[0].messages[1]["content"]
    assert smart_memory.get_all(user_id="u")["results"][0]["created_at"].startswith("2023-05-08")


def test_every_add_sends_the_same_system_prompt(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    # A local server keeps a prompt prefix it has seen in its cache: the date and the memories shown
    # change from add to add, so they go in the user message, never in the system prompt.
    scripted.answers = [facts("Lives in Lisbon"), facts("Works as a nurse")]
    smart_memory.add("I live in Lisbon", user_id="u", timestamp="2023-05-08T09:00:00Z")
    smart_memory.add("I work as a nurse in Lisbon", user_id="u", timestamp="2024-01-02T09:00:00Z")
    first, second = (call.messages[0]["content"] for call in scripted.calls)
    assert first == second
    assert "EXISTING MEMORIES" in scripted.calls[1].messages[1]["content"]


def test_earlier_messages_of_another_conversation_are_not_sent_as_context(
    smart_memory: Memory, scripted: ScriptedLLM
) -> None:
    scripted.answers = [facts("Lives in Lisbon"), facts("Works as a nurse"), facts("Has a cat")]
    smart_memory.add("I live in Lisbon", user_id="u", timestamp="2023-05-08T09:00:00Z")
    smart_memory.add("I work as a nurse", user_id="u", timestamp="2023-05-08T09:05:00Z")
    smart_memory.add("I have a cat", user_id="u", timestamp="2023-09-01T09:00:00Z")
    assert "I live in Lisbon" in scripted.calls[1].messages[1]["content"]  # minutes before: the same chat
    assert "I work as a nurse" not in scripted.calls[2].messages[1]["content"]  # months before: another one


def test_custom_prompts_replace_ours(tmp_path: Path, embedder: LocalMiniLM) -> None:
    llm = ScriptedLLM([facts("Likes tea")])
    config = {
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "c.db")}},
        "custom_fact_extraction_prompt": "Extract only drinks.",
    }
    with Memory(config, embedder=embedder, llm=llm) as memory:
        memory.add("I like tea", user_id="u")
        llm.answers.append(facts("Likes tea"))
        memory.add("I like tea", user_id="u", prompt="Per-call prompt.")
    assert llm.calls[0].messages[0]["content"] == "Extract only drinks."
    assert llm.calls[1].messages[0]["content"] == "Per-call prompt."


def test_message_ids_become_the_memory_sources(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [json.dumps({"facts": [{"text": "Adopted a cat", "sources": [1]}]})]
    smart_memory.add(
        [
            {"role": "user", "content": "Guess what", "id": "D1:1"},
            {"role": "user", "content": "I adopted a cat", "id": "D1:2"},
        ],
        user_id="u",
    )
    assert smart_memory.get_all(user_id="u")["results"][0]["metadata"] == {"source_ids": ["D1:2"]}


def test_recent_messages_give_the_llm_context(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts(), facts()]
    smart_memory.add("My sister is called Ana", user_id="u")
    smart_memory.add("She lives in Porto", user_id="u")
    assert "My sister is called Ana" in scripted.calls[1].messages[1]["content"]


# -- procedural memory and configuration ---------------------------------------------------------


def test_procedural_memory_stores_one_summary_of_an_agent_run(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [json.dumps({"summary": "Task: book a flight. Step 1: searched flights; found LH123."})]
    log = [
        {"role": "user", "content": "Book me a flight to Rome"},
        {"role": "assistant", "content": "Searching flights... found LH123"},
    ]
    result = smart_memory.add(log, agent_id="travel-bot", memory_type="procedural_memory")
    assert [r["event"] for r in result["results"]] == ["ADD"]
    item = smart_memory.get_all(agent_id="travel-bot")["results"][0]
    assert item["metadata"]["memory_type"] == "procedural_memory"
    assert item["memory"].startswith("Task: book a flight")


def test_procedural_memory_needs_an_agent(smart_memory: Memory) -> None:
    with pytest.raises(ValidationError, match="agent_id"):
        smart_memory.add("log", user_id="u", memory_type="procedural_memory")


def test_infer_without_an_llm_explains_how_to_configure_one(memory: Memory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGRAM_LOCAL_MODEL", "off")  # where engram[local] is installed it would answer
    with pytest.raises(ConfigError, match="OPENAI_API_KEY") as error:
        memory.add("I like tea", user_id="u")
    assert "infer=False" in str(error.value)
    assert memory.get_all(user_id="u")["results"] == []


@pytest.mark.parametrize("placeholder", ["...", "text", "Fact", "n/a", "-", "null"])
def test_placeholder_facts_are_dropped(smart_memory: Memory, scripted: ScriptedLLM, placeholder: str) -> None:
    scripted.answers = [facts(placeholder, "Owns a red bike")]
    smart_memory.add("I have a red bike", user_id="u")
    assert stored(smart_memory) == ["Owns a red bike"]


def test_only_a_facts_own_neighbours_can_be_updated_or_deleted() -> None:
    from engram.models import MemoryRecord, utcnow
    from engram.pipeline.decide import plan_actions
    from engram.pipeline.extract import Fact

    shown = [
        MemoryRecord(id="tennis", memory="Likes tennis", hash="h1", created_at=utcnow()),
        MemoryRecord(id="nurse", memory="Works as a nurse", hash="h2", created_at=utcnow()),
    ]
    new_facts = [Fact("Plays tennis weekly"), Fact("Owns a red bike")]
    answer = {
        "decisions": [
            {"fact": 0, "event": "DELETE", "memory_id": "1"},  # the nurse memory is not near tennis
            {"fact": 1, "event": "UPDATE", "memory_id": "1", "text": "Owns a red bike"},
        ]
    }
    actions, warnings = plan_actions(new_facts, shown, answer, neighbours=[{0}, set()])
    assert [(a.event.value, a.text, a.target) for a in actions] == [
        ("NONE", None, None),
        ("ADD", "Owns a red bike", None),
    ]
    assert len(warnings) == 2
