"""add(infer=True): extraction, reconciliation and the safety checks around the LLM's answers.

The LLM is a ScriptedLLM that replays canned answers in order: first the fact
extraction, then (when existing memories are similar) the reconciliation.
"""

from __future__ import annotations

import json
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


def test_a_changed_fact_updates_the_memory_and_keeps_its_history(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Lives in Paris")]
    memory_id = smart_memory.add("I live in Paris", user_id="u", timestamp="2023-01-01")["results"][0]["id"]
    scripted.answers = [
        facts("Lives in Berlin"),
        decisions({"fact": 0, "event": "UPDATE", "memory_id": "0", "text": "Lives in Berlin"}),
    ]
    result = smart_memory.add("I moved to Berlin", user_id="u")
    assert result["results"] == [
        {"id": memory_id, "memory": "Lives in Berlin", "event": "UPDATE", "previous_memory": "Lives in Paris"}
    ]
    item = smart_memory.get(memory_id)
    assert item is not None and item["created_at"].startswith("2023-01-01")
    assert [h["event"] for h in smart_memory.history(memory_id)] == ["ADD", "UPDATE"]
    assert result["usage"]["calls"] == 2


def test_the_llm_sees_small_ids_never_real_ones(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Likes jazz")]
    real_id = smart_memory.add("I like jazz", user_id="u")["results"][0]["id"]
    scripted.answers = [facts("Likes jazz a lot"), decisions({"fact": 0, "event": "NONE"})]
    smart_memory.add("I really like jazz", user_id="u")
    prompt = json.dumps(scripted.calls[-1].messages)
    assert real_id not in prompt
    assert 'id \\"0\\": Likes jazz' in prompt


def test_a_contradiction_deletes_the_targeted_memory(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Likes steak", "Plays chess")]
    smart_memory.add("I like steak and chess", user_id="u")
    scripted.answers = [
        facts("No longer eats steak"),
        lambda messages: _delete_matching("Likes steak", messages),
    ]
    result = smart_memory.add("I don't eat steak anymore", user_id="u")
    assert [(r["memory"], r["event"]) for r in result["results"]] == [("Likes steak", "DELETE")]
    assert stored(smart_memory) == ["Plays chess"]


def _delete_matching(text: str, messages: list[dict[str, Any]]) -> str:
    """Answer DELETE for the small id the prompt gives ``text``."""
    for line in messages[-1]["content"].splitlines():
        if line.endswith(f": {text}"):
            return decisions({"fact": 0, "event": "DELETE", "memory_id": line.split('"')[1]})
    raise AssertionError(f"{text!r} was not shown to the LLM")


def test_an_exact_duplicate_fact_skips_the_reconcile_call(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Has a dog named Rex")]
    smart_memory.add("My dog is Rex", user_id="u")
    scripted.answers = [facts("Has a dog named Rex")]
    result = smart_memory.add("Rex is my dog", user_id="u")
    assert [r["event"] for r in result["results"]] == ["NONE"]
    assert len(scripted.calls) == 2  # two extractions, no reconciliation
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
def test_no_answer_deletes_a_memory_it_did_not_clearly_target(
    two_memories: Memory, scripted: ScriptedLLM, answer: str
) -> None:
    scripted.answers = [facts("Plays tennis every week"), answer]
    two_memories.add("I play tennis every week", user_id="u")
    assert {"Likes tennis", "Works as a nurse"} <= set(stored(two_memories))


def test_an_update_of_an_unknown_id_becomes_an_add(two_memories: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [
        facts("Plays tennis every week"),
        decisions({"fact": 0, "event": "UPDATE", "memory_id": "42", "text": "Plays tennis every week"}),
    ]
    result = two_memories.add("I play tennis weekly", user_id="u")
    assert [(r["memory"], r["event"]) for r in result["results"]] == [("Plays tennis every week", "ADD")]
    assert "warnings" in result
    assert stored(two_memories) == ["Likes tennis", "Plays tennis every week", "Works as a nurse"]


def test_an_update_that_changes_nothing_is_none(two_memories: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [
        facts("Enjoys tennis"),
        lambda messages: decisions(
            {
                "fact": 0,
                "event": "UPDATE",
                "memory_id": _small_id("Likes tennis", messages),
                "text": "Likes tennis",
            }
        ),
    ]
    result = two_memories.add("tennis is fun", user_id="u")
    assert [(r["memory"], r["event"]) for r in result["results"]] == [("Likes tennis", "NONE")]


def _small_id(text: str, messages: list[dict[str, Any]]) -> str:
    for line in messages[-1]["content"].splitlines():
        if line.endswith(f": {text}"):
            return line.split('"')[1]
    raise AssertionError(f"{text!r} was not shown")


def test_an_unreadable_reconcile_answer_changes_nothing_and_says_so(
    two_memories: Memory, scripted: ScriptedLLM
) -> None:
    scripted.answers = [facts("Plays tennis every week"), "I'm sorry, I can't do that."]
    result = two_memories.add("I play tennis every week", user_id="u")
    assert result["results"] == []
    assert any("unreadable" in w for w in result["warnings"])


# -- prompts, dates, sources ---------------------------------------------------------------------


def test_the_timestamp_is_the_reference_date_for_extraction(smart_memory: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Went to Rome on 2023-05-07")]
    smart_memory.add("I went to Rome yesterday", user_id="u", timestamp="2023-05-08T09:00:00Z")
    assert "2023-05-08" in scripted.calls[0].messages[0]["content"]
    assert smart_memory.get_all(user_id="u")["results"][0]["created_at"].startswith("2023-05-08")


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
    from engram.pipeline.extract import Fact
    from engram.pipeline.reconcile import plan_actions

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
