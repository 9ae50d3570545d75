"""Graph memory (DESIGN.md section 1c): the pure decisions, then one contract suite on both stores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest_pg import MemoryFactory
from engram import Memory
from engram.embedders.local_minilm import LocalMiniLM
from engram.errors import ConfigError
from engram.graph_search import scope_relations
from engram.llms.scripted import ScriptedLLM
from engram.models import Entity, Relation, Scope
from engram.pipeline.entities import (
    DEFAULT_ENTITY_THRESHOLD,
    Mention,
    invalidate_contradicted,
    normalise_name,
    read_graph,
    resolve_entities,
)
from engram.storage.base import Query
from graph_name_pairs import DIFFERENT, SAME

JAN = datetime(2024, 1, 1, tzinfo=UTC)
JUN = datetime(2024, 6, 1, tzinfo=UTC)
OWNER = Scope(user_id="alice")
SRC = Path(__file__).resolve().parents[1] / "src"


# -- pure decisions ----------------------------------------------------------------------------------


def test_names_are_compared_without_case_punctuation_possessive_or_the() -> None:
    assert normalise_name("The  Louvre") == normalise_name("louvre") == "louvre"
    assert normalise_name("Caroline's") == "caroline"
    assert normalise_name("Dr. Patel") == "dr patel"


def test_self_references_become_the_speaker() -> None:
    answer = {
        "entities": [{"name": "I", "type": "person"}, {"name": "Paris", "type": "city"}],
        "relations": [
            {"source": "me", "relationship": "Lives In", "destination": "Paris"},
            {"source": "Paris", "relationship": "is", "destination": "paris"},  # a loop: dropped
            {"source": "I", "relationship": "", "destination": "Rome"},  # no relationship: dropped
        ],
    }
    graph = read_graph(answer, self_name="Alice")
    assert [(t.source, t.relationship, t.destination) for t in graph.triples] == [("Alice", "lives_in", "Paris")]
    assert [m.name for m in graph.mentions] == ["Alice", "Paris"]


def test_without_a_self_name_relations_about_the_speaker_are_dropped() -> None:
    answer = {"relations": [{"source": "I", "relationship": "likes", "destination": "tea"}]}
    assert read_graph(answer, self_name=None).triples == []


def _entity(name: str) -> Entity:
    return Entity(f"id-{normalise_name(name)}", name, normalise_name(name), OWNER, JAN)


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_resolution_matches_by_name_then_by_embedding_above_the_threshold() -> None:
    paris, rome = _entity("Paris"), _entity("Rome")
    existing = [(paris, _unit(1, 0, 0)), (rome, _unit(0, 1, 0))]
    vectors = {"city of paris": _unit(0.99, 0.1, 0), "lisbon": _unit(0.5, 0.5, 0.7)}
    mentions = [Mention("PARIS"), Mention("City of Paris"), Mention("Lisbon")]
    resolution = resolve_entities(mentions, existing, vectors, owner=OWNER, now=JUN, threshold=0.9)
    assert resolution.by_key["paris"] is paris
    assert resolution.by_key["city of paris"] is paris
    [(lisbon, vector)] = resolution.new
    assert (lisbon.name, lisbon.created_at, lisbon.owner) == ("Lisbon", JUN, OWNER)
    assert vector is vectors["lisbon"]


def _relation(relationship: str, destination: str, valid_from: datetime) -> Relation:
    return Relation(
        f"r-{relationship}-{destination}", "id-alice", relationship, f"id-{destination}", OWNER, valid_from, valid_from
    )


def test_a_single_valued_relation_retires_the_current_one_at_the_adds_time() -> None:
    paris = _relation("lives_in", "paris", JAN)
    rome = _relation("lives_in", "rome", JUN)
    retired, fresh = invalidate_contradicted([paris], [rome], JUN)
    assert retired == [Relation(**{**paris.__dict__, "invalid_at": JUN})]
    assert fresh == [rome]


def test_a_multi_valued_relation_retires_nothing_and_a_repeat_is_not_stored_twice() -> None:
    tea = _relation("likes", "tea", JAN)
    retired, fresh = invalidate_contradicted([tea], [_relation("likes", "coffee", JUN), tea], JUN)
    assert retired == []
    assert [r.destination_id for r in fresh] == ["id-coffee"]


def test_an_older_contradiction_is_stored_as_already_over() -> None:
    rome = _relation("lives_in", "rome", JUN)
    retired, [paris] = invalidate_contradicted([rome], [_relation("lives_in", "paris", JAN)], JAN)
    assert retired == []
    assert paris.invalid_at == JUN  # Paris was true from January until the move in June


def test_the_default_threshold_error_rates_on_labelled_name_pairs(embedder: LocalMiniLM) -> None:
    """bench/bench_entity_threshold.py prints the whole table; this pins the default's row."""

    def similarity(pairs: list[tuple[str, str]]) -> np.ndarray:
        left = embedder.embed_batch([a for a, _ in pairs], purpose="document")
        right = embedder.embed_batch([b for _, b in pairs], purpose="document")
        return np.sum(left * right, axis=1)

    false_merges = float(np.mean(similarity(DIFFERENT) >= DEFAULT_ENTITY_THRESHOLD))
    missed_merges = float(np.mean(similarity(SAME) < DEFAULT_ENTITY_THRESHOLD))
    assert false_merges <= 0.10
    assert missed_merges <= 0.50


# -- configuration ------------------------------------------------------------------------------------


def test_neo4j_is_refused_naming_the_built_in_graph(tmp_path: Path) -> None:
    config = {
        "graph_store": {"provider": "neo4j", "config": {"url": "bolt://x", "username": "u", "password": "p"}},
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "e.db")}},
    }
    with pytest.raises(ConfigError, match="built-in graph"):
        Memory(config)


def test_a_graph_on_another_backend_than_the_memories_is_refused(tmp_path: Path) -> None:
    config = {
        "graph_store": {"provider": "postgres"},
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "e.db")}},
    }
    with pytest.raises(ConfigError, match="same database"):
        Memory(config)


def test_unknown_graph_settings_are_refused(tmp_path: Path) -> None:
    config = {
        "graph_store": {"provider": "sqlite", "config": {"treshold": 0.5}},
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "e.db")}},
    }
    with pytest.raises(ConfigError, match="treshold"):
        Memory(config)


# -- the contract, on every store ------------------------------------------------------------------


def _graph_on(backend: str) -> dict[str, Any]:
    return {"graph_store": {"provider": backend}}


def _extraction(facts: list[str], relations: list[tuple[str, str, str]], entities: tuple[str, ...] = ()) -> str:
    return json.dumps(
        {
            "facts": [{"text": fact, "sources": [0]} for fact in facts],
            "entities": [{"name": name} for name in entities],
            "relations": [{"source": s, "relationship": r, "destination": d} for s, r, d in relations],
        }
    )


def _said(text: str, name: str = "Alice") -> list[dict[str, str]]:
    return [{"role": "user", "content": text, "name": name}]


def test_relations_come_from_the_same_llm_call_as_the_facts(memory_factory: MemoryFactory, backend: str) -> None:
    llm = ScriptedLLM([_extraction(["Alice lives in Paris"], [("I", "lives_in", "Paris")])])
    memory = memory_factory(llm=llm, **_graph_on(backend))
    result = memory.add(_said("I live in Paris"), user_id="alice", timestamp=JAN)
    assert len(llm.calls) == 1
    assert "relations" in (llm.calls[0].json_schema or {})["properties"]
    [added] = result["relations"]["added_entities"]
    assert (added["source"], added["relationship"], added["destination"]) == ("Alice", "lives_in", "Paris")
    assert added["valid_from"] == "2024-01-01T00:00:00.000000+00:00" and added["invalid_at"] is None
    [relation] = memory.get_all(user_id="alice")["relations"]
    assert relation["destination"] == "Paris"


def test_the_graph_makes_no_more_llm_calls_than_without_it(memory_factory: MemoryFactory, backend: str) -> None:
    def calls(**config: Any) -> int:
        answers = [
            _extraction(["Alice lives in Paris"], [("I", "lives_in", "Paris")]),
            _extraction(["Alice lives in Rome"], [("I", "lives_in", "Rome")]),
            json.dumps({"decisions": [{"fact": 0, "event": "ADD"}]}),
        ]
        llm = ScriptedLLM(answers)
        memory = memory_factory(llm=llm, **config)
        memory.add(_said("I live in Paris"), user_id="alice", timestamp=JAN)
        memory.add(_said("I moved to Rome"), user_id="alice", timestamp=JUN)
        memory.delete_all(user_id="alice")
        return len(llm.calls)

    # One call per add either way: the graph rides on the call that extracts and decides.
    assert calls(**_graph_on(backend)) == calls() == 2


def test_a_contradiction_retires_the_old_relation_and_as_of_sees_both_times(
    memory_factory: MemoryFactory, backend: str
) -> None:
    llm = ScriptedLLM(
        [
            _extraction(["Alice lives in Paris"], [("I", "lives_in", "Paris"), ("I", "likes", "tea")]),
            _extraction(["Alice lives in Rome"], [("Alice", "lives in", "Rome"), ("I", "likes", "coffee")]),
            json.dumps({"decisions": [{"fact": 0, "event": "ADD"}]}),
        ]
    )
    memory = memory_factory(llm=llm, **_graph_on(backend))
    memory.add(_said("I live in Paris and like tea"), user_id="alice", timestamp=JAN)
    moved = memory.add(_said("I moved to Rome, and I like coffee too"), user_id="alice", timestamp=JUN)
    [retired] = moved["relations"]["deleted_entities"]
    assert (retired["destination"], retired["invalid_at"]) == ("Paris", "2024-06-01T00:00:00.000000+00:00")

    def where(as_of: datetime | None) -> set[tuple[str, str]]:
        rows = memory.get_all(user_id="alice", as_of=as_of)["relations"]
        assert rows == scope_relations(memory.store, Scope(user_id="alice"), limit=100, as_of=as_of)
        return {(row["relationship"], row["destination"]) for row in rows}

    assert where(None) == {("lives_in", "Rome"), ("likes", "tea"), ("likes", "coffee")}
    assert where(JAN + timedelta(days=30)) == {("lives_in", "Paris"), ("likes", "tea")}
    assert where(JUN + timedelta(days=1)) == where(None)
    assert where(JAN - timedelta(days=1)) == set()
    then = memory.search("Where does Alice live?", user_id="alice", as_of=JAN + timedelta(days=30))["relations"]
    assert ("lives_in", "Paris") in {(r["relationship"], r["destination"]) for r in then}


def test_entities_resolve_by_normalised_name(memory_factory: MemoryFactory, backend: str) -> None:
    llm = ScriptedLLM(
        [
            _extraction(["Alice visited the Louvre"], [("I", "visited", "The Louvre")]),
            _extraction(["The Louvre is in Paris"], [("louvre", "located_in", "Paris")]),
        ]
    )
    memory = memory_factory(llm=llm, **_graph_on(backend))
    memory.add(_said("I visited the Louvre"), user_id="alice")
    llm.answers.append(json.dumps({"decisions": [{"fact": 0, "event": "ADD"}]}))
    memory.add(_said("The Louvre is in Paris"), user_id="alice")
    entities = memory.store.graph.owner_entities(Scope(user_id="alice"))
    assert sorted(entity.name for entity, _ in entities) == ["Alice", "Paris", "The Louvre"]


def test_search_returns_scored_relations_within_the_limit(memory_factory: MemoryFactory, backend: str) -> None:
    relations = [("I", "likes", "tea"), ("I", "has_pet", "Rex"), ("Rex", "is_a", "dog"), ("I", "lives_in", "Oslo")]
    llm = ScriptedLLM([_extraction(["Alice likes tea", "Alice has a dog called Rex"], relations)])
    memory = memory_factory(llm=llm, **_graph_on(backend))
    memory.add(_said("I like tea; my dog Rex lives with me in Oslo"), user_id="alice")
    found = memory.search("What is Rex?", user_id="alice", limit=2)["relations"]
    assert len(found) == 2
    assert all(set(r) >= {"source", "relationship", "destination", "score", "valid_from", "invalid_at"} for r in found)
    assert ("Rex", "is_a", "dog") in {(r["source"], r["relationship"], r["destination"]) for r in found}
    assert found[0]["score"] == 1.0  # touches Rex, whom the question names
    two_hops = memory.search("What is Rex?", user_id="alice", limit=10)["relations"]
    assert {r["score"] for r in two_hops} == {1.0, 0.5}  # Alice's other relations are one hop from Rex


def test_the_graph_lifts_memories_linked_to_a_named_entitys_neighbours(
    memory_factory: MemoryFactory, backend: str
) -> None:
    """Asked about Rex, the memory about Alice's garden (Rex -> Alice -> garden) is among the results
    (with a graph weight: the default is 0, as chosen on LoCoMo without an LLM)."""
    llm = ScriptedLLM(
        [
            _extraction(["Alice has a dog called Rex"], [("I", "has_pet", "Rex")]),
            _extraction(["Alice grows tomatoes in her garden"], [("I", "owns", "garden")], ("garden",)),
        ]
    )
    memory = memory_factory(llm=llm, graph_store={"provider": backend, "config": {"weight": 0.2}})
    memory.add(_said("My dog is Rex"), user_id="alice")
    llm.answers.append(json.dumps({"decisions": [{"fact": 0, "event": "ADD"}]}))
    memory.add(_said("I grow tomatoes in my garden"), user_id="alice")
    for i in range(20):
        memory.add(f"unrelated note number {i} about the weather", user_id="alice", infer=False)
    results = memory.search("Rex", user_id="alice", limit=3)["results"]
    assert "Alice grows tomatoes in her garden" in [r["memory"] for r in results]


def test_entities_and_relations_are_isolated_by_scope(memory_factory: MemoryFactory, backend: str) -> None:
    llm = ScriptedLLM(
        [
            _extraction(["Alice lives in Paris"], [("I", "lives_in", "Paris")]),
            _extraction(["Bob lives in Rome"], [("I", "lives_in", "Rome")]),
        ]
    )
    memory = memory_factory(llm=llm, **_graph_on(backend))
    memory.add(_said("I live in Paris"), user_id="alice")
    memory.add(_said("I live in Rome", name="Bob"), user_id="bob")
    assert [r["destination"] for r in memory.get_all(user_id="alice")["relations"]] == ["Paris"]
    assert [r["destination"] for r in memory.get_all(user_id="bob")["relations"]] == ["Rome"]
    assert memory.search("Paris", user_id="bob")["relations"] == []
    # Bob moving to Paris is no contradiction of Alice's home: each owner's graph is its own.
    assert memory.store.graph.find_entities(Scope(user_id="bob"), ["paris"]) == []


def test_delete_all_clears_the_scopes_graph_and_reset_clears_every_graph(
    memory_factory: MemoryFactory, backend: str
) -> None:
    llm = ScriptedLLM(
        [
            _extraction(["Alice lives in Paris"], [("I", "lives_in", "Paris")]),
            _extraction(["Bob lives in Rome"], [("I", "lives_in", "Rome")]),
        ]
    )
    memory = memory_factory(llm=llm, **_graph_on(backend))
    memory.add(_said("I live in Paris"), user_id="alice")
    memory.add(_said("I live in Rome", name="Bob"), user_id="bob")
    memory.delete_all(user_id="alice")
    assert memory.get_all(user_id="alice")["relations"] == []
    assert memory.store.graph.owner_entities(Scope(user_id="alice")) == []
    assert len(memory.get_all(user_id="bob")["relations"]) == 1
    memory.reset()
    assert memory.get_all(user_id="bob")["relations"] == []
    assert memory.store.graph.owner_entities(Scope(user_id="bob")) == []


def test_deleting_a_memory_deletes_the_relations_extracted_from_it_alone(
    memory_factory: MemoryFactory, backend: str
) -> None:
    llm = ScriptedLLM(
        [
            _extraction(["Alice lives in Paris"], [("I", "lives_in", "Paris")]),
            _extraction(["Alice likes tea"], [("I", "likes", "tea")]),
        ]
    )
    memory = memory_factory(llm=llm, **_graph_on(backend))
    paris = memory.add(_said("I live in Paris"), user_id="alice")["results"][0]["id"]
    llm.answers.append(json.dumps({"decisions": [{"fact": 0, "event": "ADD"}]}))
    memory.add(_said("I like tea"), user_id="alice")
    memory.delete(paris)
    assert [r["destination"] for r in memory.get_all(user_id="alice")["relations"]] == ["tea"]


def test_a_relation_from_an_already_known_fact_is_attributed_to_that_memory(
    memory_factory: MemoryFactory, backend: str
) -> None:
    llm = ScriptedLLM(
        [
            _extraction(["Alice likes tea"], [("I", "likes", "tea")]),
            _extraction(["Alice likes tea"], [("I", "drinks", "tea")]),  # the fact is known: NONE, no LLM decision
        ]
    )
    memory = memory_factory(llm=llm, **_graph_on(backend))
    tea = memory.add(_said("I like tea"), user_id="alice")["results"][0]["id"]
    again = memory.add(_said("I drink tea every day"), user_id="alice")
    assert again["results"] == [{"id": tea, "memory": "Alice likes tea", "event": "NONE"}]
    assert [r["relationship"] for r in again["relations"]["added_entities"]] == ["drinks"]
    memory.delete(tea)
    assert memory.get_all(user_id="alice")["relations"] == []


def test_without_an_llm_memories_link_to_the_speaker_and_the_names_they_mention(
    memory_factory: MemoryFactory, backend: str
) -> None:
    memory = memory_factory(**_graph_on(backend))
    turns = [
        {"role": "user", "content": "I went hiking in Yosemite with Jordan last week.", "name": "Sam"},
        {"role": "assistant", "content": "That sounds lovely!"},
    ]
    result = memory.add(turns, user_id="sam", infer=False)
    assert result["relations"] == {"added_entities": [], "deleted_entities": []}
    hiking = result["results"][0]["id"]
    entities = {entity.name: entity for entity, _ in memory.store.graph.owner_entities(Scope(user_id="sam"))}
    assert {"Sam", "Yosemite", "Jordan"} <= set(entities)
    linked = memory.store.graph.linked_memories(
        Query(Scope(user_id="sam")), [entities["Jordan"].id, entities["Sam"].id], 10
    )
    assert {memory_id for memory_id, _ in linked} == {hiking}


def test_the_graph_off_returns_no_relations(memory_factory: MemoryFactory) -> None:
    memory = memory_factory()
    memory.add("I live in Paris", user_id="u", infer=False)
    assert "relations" not in memory.get_all(user_id="u")
    assert "relations" not in memory.search("Paris", user_id="u")


# -- one transaction: a crash between the memory and graph writes leaves neither ---------------------

CRASHING_ADD = """
import json, os, signal, sys
from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.llms.scripted import ScriptedLLM
from engram.storage import SQLiteStore

where, backend = sys.argv[1], sys.argv[2]
if backend == "sqlite":
    store = SQLiteStore(where)
else:
    from engram.storage.postgres import PostgresSettings, PostgresStore
    url, schema = where.split(" ")
    store = PostgresStore(url, PostgresSettings(schema=schema))

def answer(facts, relations):
    return json.dumps({"facts": [{"text": f} for f in facts],
                       "relations": [{"source": s, "relationship": r, "destination": d} for s, r, d in relations]})

llm = ScriptedLLM([answer(["Alice lives in Paris"], [("I", "lives_in", "Paris")]),
                   answer(["Alice lives in Rome"], [("I", "lives_in", "Rome")]),
                   json.dumps({"decisions": [{"fact": 0, "event": "ADD"}]})])
memory = Memory({"graph_store": {"provider": backend}}, store=store, embedder=HashingEmbedder(), llm=llm)
turn = lambda text: [{"role": "user", "content": text, "name": "Alice"}]
memory.add(turn("I live in Paris"), user_id="alice")

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

# The memory, its history and the entities are written; the process dies before the relations.
store.graph.insert_relations = die
memory.add(turn("I moved to Rome"), user_id="alice")
"""


def test_a_process_killed_mid_add_leaves_memories_and_graph_in_agreement(
    memory_factory: MemoryFactory, backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        where = str(tmp_path / "engram.db")  # the file memory_factory opens
    else:
        where = f"{request.getfixturevalue('postgres_url')} {request.getfixturevalue('postgres_schema')}"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CRASHING_ADD), where, backend], env=env, capture_output=True, timeout=120
    )
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()

    memory = memory_factory(**_graph_on(backend))
    assert [item["memory"] for item in memory.get_all(user_id="alice")["results"]] == ["Alice lives in Paris"]
    assert [r["destination"] for r in memory.get_all(user_id="alice")["relations"]] == ["Paris"]
    names = sorted(entity.name for entity, _ in memory.store.graph.owner_entities(Scope(user_id="alice")))
    assert names == ["Alice", "Paris"]  # Rome's entity rolled back with the memory that named it


# -- export and import carry the graph --------------------------------------------------------------


def test_export_then_import_gives_back_the_graph(memory_factory: MemoryFactory, backend: str, tmp_path: Path) -> None:
    import io

    from engram.portability import import_file, write_export

    llm = ScriptedLLM(
        [
            _extraction(["Alice lives in Paris"], [("I", "lives_in", "Paris")]),
            _extraction(["Alice lives in Rome"], [("I", "lives_in", "Rome")]),
            json.dumps({"decisions": [{"fact": 0, "event": "ADD"}]}),
        ]
    )
    source = memory_factory(llm=llm, **_graph_on(backend))
    source.add(_said("I live in Paris"), user_id="alice", timestamp=JAN)
    source.add(_said("I moved to Rome"), user_id="alice", timestamp=JUN)
    out = io.StringIO()
    write_export(source.store, source.embedder, out, Scope(user_id="alice"))
    path = tmp_path / "alice.jsonl"
    path.write_text(out.getvalue(), encoding="utf-8")
    source.delete_all(user_id="alice")
    assert source.get_all(user_id="alice")["relations"] == []

    for _ in range(2):  # importing twice changes nothing the second time
        import_file(source.store, source.embedder, path)
        assert [(r["destination"], r["invalid_at"]) for r in source.get_all(user_id="alice")["relations"]] == [
            ("Rome", None)
        ]
    before = source.get_all(user_id="alice", as_of=JAN + timedelta(days=1))["relations"]
    assert [r["destination"] for r in before] == ["Paris"]
    names = sorted(entity.name for entity, _ in source.store.graph.owner_entities(Scope(user_id="alice")))
    assert names == ["Alice", "Paris", "Rome"]
    found = source.search("Alice", user_id="alice")["relations"]
    assert {r["destination"] for r in found} == {"Rome"}
