"""The offline relation source (pipeline/relation_patterns.py): relations read from spaCy's parse of
the user's own words, for infer=False adds and for LLM answers that name no relations."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest_pg import MemoryFactory
from engram.llms.scripted import ScriptedLLM
from engram.pipeline.entities import entity_recogniser
from engram.pipeline.relation_patterns import read_relations

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from bench_relation_patterns import DATA, SPEAKER, Score, score_sentence

JAN = datetime(2024, 1, 1, tzinfo=UTC)
JUN = datetime(2024, 6, 1, tzinfo=UTC)


def relations(text: str, self_name: str | None = "Maya") -> set[tuple[str, str, str]]:
    [doc] = entity_recogniser().parse([text])
    return {(t.source, t.relationship, t.destination) for t in read_relations(doc, self_name)}


# -- the patterns --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I live in Lisbon.", {("Maya", "lives_in", "Lisbon")}),
        ("I moved to Porto last month.", {("Maya", "lives_in", "Porto")}),
        ("My sister Carla lives in Bilbao.", {("Maya", "has_sister", "Carla"), ("Carla", "lives_in", "Bilbao")}),
        ("Ana is my cousin, not my sister.", {("Maya", "has_cousin", "Ana")}),
        ("my manager Karen keeps scheduling 8am meetings", {("Maya", "has_manager", "Karen")}),
        ("I'm married to Daniel.", {("Maya", "married_to", "Daniel")}),
        ("I have a beagle named Biscuit.", {("Maya", "has_pet", "Biscuit")}),
        ("I work for Spotify.", {("Maya", "works_at", "Spotify")}),
        (
            "I live in Lisbon and Carla lives in Bilbao.",
            {("Maya", "lives_in", "Lisbon"), ("Carla", "lives_in", "Bilbao")},
        ),
        ("I'm allergic to peanuts.", {("Maya", "allergic_to", "peanuts")}),
    ],
)
def test_statements_become_relations_in_the_llms_vocabulary(text: str, expected: set[tuple[str, str, str]]) -> None:
    assert relations(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Do you live in Lisbon?",
        "Should I move to Porto or stay in Lisbon?",
        "I don't work at Acme anymore.",
        "I've never lived in Paris.",
        "Karen isn't my manager anymore.",
        "I might move to Porto next year.",
        "I'm moving to Berlin next month.",
        "I want to work at Google someday.",
        "If I lived in Oslo I'd ski every day.",
        "I used to live in Chicago before the move.",
        "Please forget that I live in Lisbon.",
        "Forget everything about my sister Carla.",
    ],
)
def test_questions_negations_hypotheticals_plans_and_forget_requests_state_no_relation(text: str) -> None:
    assert relations(text) == set()


@pytest.mark.parametrize(
    "text", ["Tom thinks Ana works at Google.", "My friend says she lives in Paris.", "She said I should live in Lyon."]
)
def test_what_others_say_or_think_states_no_relation(text: str) -> None:
    assert relations(text) == set()


def test_a_role_named_in_a_question_still_holds() -> None:
    found = relations("Can you help me plan a dinner for my boyfriend Marco?")
    assert found == {("Maya", "has_partner", "Marco")}


def test_a_former_role_is_no_current_relation() -> None:
    assert relations("My old manager, Karen, retired.") == set()
    assert "married_to" not in {relationship for _, relationship, _ in relations("My ex-husband Paul lives in Nice.")}


def test_a_team_moving_its_tools_is_no_move_of_home() -> None:
    assert relations("We moved to GitLab last year.") == set()
    assert relations("we moved the servers to Hetzner") == set()
    assert relations("we've moved everything to Fly.io now") == set()


def test_without_a_self_name_relations_about_the_speaker_are_left_out() -> None:
    assert relations("I live in Lisbon and Carla lives in Bilbao.", None) == {("Carla", "lives_in", "Bilbao")}


@pytest.mark.parametrize(("split", "floor"), [("tune", 0.95), ("heldout", 0.90)])
def test_precision_on_the_labelled_sentences(split: str, floor: float) -> None:
    """bench/bench_relation_patterns.py prints the table per relationship; this pins the overall
    precision of each part (recall is secondary: a wrong relation pollutes the graph)."""
    items = [item for item in json.loads(DATA.read_text(encoding="utf-8"))["sentences"] if item["split"] == split]
    score = Score()
    for item, doc in zip(items, entity_recogniser().parse([item["text"] for item in items]), strict=True):
        score_sentence(score, item, read_relations(doc, SPEAKER))
    assert sum(score.right.values()) / sum(score.found.values()) >= floor, "\n".join(score.errors)


# -- in add, on every store ------------------------------------------------------------------------


def _said(text: str, name: str = "Maya") -> list[dict[str, str]]:
    return [{"role": "user", "content": text, "name": name}]


def _triples(rows: list[dict[str, object]]) -> set[tuple[object, object, object]]:
    return {(r["source"], r["relationship"], r["destination"]) for r in rows}


def test_an_add_without_an_llm_stores_the_relations_the_user_states(
    memory_factory: MemoryFactory, backend: str
) -> None:
    memory = memory_factory(graph_store={"provider": backend})
    assistant = {"role": "assistant", "content": "I live in the cloud, but Lisbon sounds lovely."}
    turns = [*_said("I live in Lisbon, and my sister Ana works at Acme."), assistant]
    result = memory.add(turns, user_id="maya", infer=False, timestamp=JAN)
    expected = {("Maya", "lives_in", "Lisbon"), ("Maya", "has_sister", "Ana"), ("Ana", "works_at", "Acme")}
    assert _triples(result["relations"]["added_entities"]) == expected  # the assistant's "I" is not Maya
    assert _triples(memory.get_all(user_id="maya")["relations"]) == expected
    found = memory.search("Where does Maya live?", user_id="maya")["relations"]
    assert ("Maya", "lives_in", "Lisbon") in _triples(found)


def test_a_move_said_without_an_llm_retires_the_old_home(memory_factory: MemoryFactory, backend: str) -> None:
    memory = memory_factory(graph_store={"provider": backend})
    memory.add(_said("I live in Lisbon."), user_id="maya", infer=False, timestamp=JAN)
    moved = memory.add(_said("I moved to Porto last week!"), user_id="maya", infer=False, timestamp=JUN)
    assert _triples(moved["relations"]["added_entities"]) == {("Maya", "lives_in", "Porto")}
    [retired] = moved["relations"]["deleted_entities"]
    assert (retired["destination"], retired["invalid_at"]) == ("Lisbon", "2024-06-01T00:00:00.000000+00:00")
    assert _triples(memory.get_all(user_id="maya")["relations"]) == {("Maya", "lives_in", "Porto")}
    before = memory.get_all(user_id="maya", as_of=JAN + timedelta(days=1))["relations"]
    assert _triples(before) == {("Maya", "lives_in", "Lisbon")}


def test_negations_questions_and_plans_add_no_relations(memory_factory: MemoryFactory, backend: str) -> None:
    memory = memory_factory(graph_store={"provider": backend})
    memory.add(_said("I live in Lisbon."), user_id="maya", infer=False, timestamp=JAN)
    for text in ("I don't live in Lisbon anymore?", "Do you live in Rome?", "I might move to Porto next year."):
        result = memory.add(_said(text), user_id="maya", infer=False, timestamp=JUN)
        assert result["relations"] == {"added_entities": [], "deleted_entities": []}
    assert _triples(memory.get_all(user_id="maya")["relations"]) == {("Maya", "lives_in", "Lisbon")}


def _extraction(facts: list[str], relations: list[tuple[str, str, str]]) -> str:
    return json.dumps(
        {
            "facts": [{"text": fact, "sources": [0]} for fact in facts],
            "relations": [{"source": s, "relationship": r, "destination": d} for s, r, d in relations],
        }
    )


def test_an_llm_answer_without_relations_falls_back_to_the_users_words(
    memory_factory: MemoryFactory, backend: str
) -> None:
    llm = ScriptedLLM([_extraction(["Maya lives in Lisbon"], [])])  # what the offline models answer
    memory = memory_factory(llm=llm, graph_store={"provider": backend})
    result = memory.add(_said("I live in Lisbon, I'm married to Daniel."), user_id="maya", timestamp=JAN)
    added = result["relations"]["added_entities"]
    assert _triples(added) == {("Maya", "lives_in", "Lisbon"), ("Maya", "married_to", "Daniel")}
    for item in result["results"]:  # the relations belong to the memories they came with
        memory.delete(item["id"])
    assert memory.get_all(user_id="maya")["relations"] == []


def test_the_llms_own_relations_are_kept_without_the_patterns(memory_factory: MemoryFactory, backend: str) -> None:
    llm = ScriptedLLM([_extraction(["Maya likes tea"], [("I", "likes", "tea")])])
    memory = memory_factory(llm=llm, graph_store={"provider": backend})
    result = memory.add(_said("I like tea. I live in Lisbon."), user_id="maya", timestamp=JAN)
    assert _triples(result["relations"]["added_entities"]) == {("Maya", "likes", "tea")}
