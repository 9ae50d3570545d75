"""One behavioural suite, run on the four faces: Memory, AsyncMemory, MemoryClient, AsyncMemoryClient.

The clients talk to a live server on loopback, each test in a fresh project. Every test runs on
SQLite and on PostgreSQL: the embedded faces on a file or a schema, the clients on a server on either.
Async faces are driven through one event loop per test (``asyncio.Runner``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engram import (
    AsyncMemory,
    AsyncMemoryClient,
    ConfigError,
    Memory,
    MemoryClient,
    NotFoundError,
    ValidationError,
)
from engram.embedders.hashing import HashingEmbedder

from .conftest import ON_BOTH_BACKENDS, LiveServer

FACES = ["Memory", "AsyncMemory", "MemoryClient", "AsyncMemoryClient"]


class Synced:
    """Calls an async face's verbs as plain functions, on one event loop."""

    def __init__(self, target: Any, runner: asyncio.Runner) -> None:
        self._target = target
        self._runner = runner

    def __getattr__(self, name: str) -> Callable[..., Any]:
        verb = getattr(self._target, name)
        return lambda *args, **kwargs: self._runner.run(verb(*args, **kwargs))


pytestmark = ON_BOTH_BACKENDS  # embedded on a SQLite file or a Postgres schema; clients on a server on either


@pytest.fixture(params=FACES)
def mem(request: pytest.FixtureRequest, tmp_path: Path, server_backend: str) -> Iterator[Any]:
    face: str = request.param
    config: dict[str, Any] = {"vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}}}
    if server_backend == "postgres":
        url, schema = request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema")
        config = {"vector_store": {"provider": "pgvector", "config": {"url": url, "schema": schema}}}
    if face == "Memory":
        with Memory(config, embedder=HashingEmbedder()) as memory:
            yield memory
        return
    if face == "MemoryClient":
        server: LiveServer = request.getfixturevalue("live_server")
        with MemoryClient(server.new_key(), host=server.url) as client:
            yield client
        return
    with asyncio.Runner() as runner:
        if face == "AsyncMemory":
            target: Any = AsyncMemory(config, embedder=HashingEmbedder())
        else:
            server = request.getfixturevalue("live_server")
            target = AsyncMemoryClient(server.new_key(), host=server.url)
        yield Synced(target, runner)
        runner.run(target.close())


def test_add_returns_one_event_per_new_memory(mem: Any) -> None:
    result = mem.add("I am vegetarian", user_id="alice", infer=False)
    assert [(r["event"], r["memory"]) for r in result["results"]] == [("ADD", "I am vegetarian")]


def test_get_returns_the_item_shape(mem: Any) -> None:
    memory_id = mem.add("I live in Lisbon", user_id="alice", metadata={"topic": "home"}, infer=False)["results"][0][
        "id"
    ]
    item = mem.get(memory_id)
    assert {"id", "memory", "hash", "metadata", "created_at", "updated_at"} <= item.keys()
    assert (item["memory"], item["user_id"], item["metadata"]) == (
        "I live in Lisbon",
        "alice",
        {"topic": "home"},
    )


def test_get_of_an_unknown_id_is_none(mem: Any) -> None:
    assert mem.get("00000000-0000-0000-0000-000000000000") is None


def test_adding_the_same_text_twice_stores_it_once(mem: Any) -> None:
    mem.add("I like tea", user_id="alice", infer=False)
    again = mem.add("I like tea", user_id="alice", infer=False)
    assert [r["event"] for r in again["results"]] == ["NONE"]
    assert len(mem.get_all(user_id="alice")["results"]) == 1


def test_search_ranks_within_the_scope_only(mem: Any) -> None:
    mem.add([{"role": "user", "content": "I like green tea"}], user_id="alice", infer=False)
    mem.add("I play the cello", user_id="alice", infer=False)
    mem.add("I like green tea too", user_id="bob", infer=False)
    results = mem.search("green tea", user_id="alice", limit=5)["results"]
    assert results[0]["memory"] == "I like green tea"
    assert all(r["user_id"] == "alice" for r in results)
    assert results == sorted(results, key=lambda r: -r["score"])


def test_search_and_get_all_honour_metadata_filters(mem: Any) -> None:
    mem.add("Flight to Oslo on Friday", user_id="alice", metadata={"kind": "travel"}, infer=False)
    mem.add("Dentist on Monday", user_id="alice", metadata={"kind": "health"}, infer=False)
    listed = mem.get_all(user_id="alice", filters={"kind": "travel"})["results"]
    assert [item["memory"] for item in listed] == ["Flight to Oslo on Friday"]
    found = mem.search("Monday", filters={"user_id": "alice", "kind": {"in": ["health"]}})["results"]
    assert [item["memory"] for item in found] == ["Dentist on Monday"]


def test_identity_keys_in_metadata_never_change_the_scope(mem: Any) -> None:
    mem.add("I like jazz", user_id="alice", metadata={"user_id": "mallory", "mood": "calm"}, infer=False)
    assert mem.get_all(user_id="mallory")["results"] == []
    assert mem.get_all(user_id="alice")["results"][0]["metadata"] == {"mood": "calm"}


def test_timestamp_becomes_created_at(mem: Any) -> None:
    mem.add("We met in Porto", user_id="alice", infer=False, timestamp="2024-05-01T10:00:00Z")
    assert mem.get_all(user_id="alice")["results"][0]["created_at"].startswith("2024-05-01T10:00:00")


def test_update_changes_the_text_and_records_history(mem: Any) -> None:
    memory_id = mem.add("I live in Lisbon", user_id="alice", infer=False)["results"][0]["id"]
    assert mem.update(memory_id, "I live in Porto") == {"message": "Memory updated successfully!"}
    assert mem.get(memory_id)["memory"] == "I live in Porto"
    history = mem.history(memory_id)
    assert [(h["event"], h["old_memory"], h["new_memory"]) for h in history] == [
        ("ADD", None, "I live in Lisbon"),
        ("UPDATE", "I live in Lisbon", "I live in Porto"),
    ]


def test_update_takes_text_as_a_keyword(mem: Any) -> None:
    memory_id = mem.add("I live in Lisbon", user_id="alice", infer=False)["results"][0]["id"]
    mem.update(memory_id, text="I live in Faro", metadata={"moved": True})
    item = mem.get(memory_id)
    assert (item["memory"], item["metadata"]) == ("I live in Faro", {"moved": True})


def test_delete_keeps_the_history(mem: Any) -> None:
    memory_id = mem.add("I live in Lisbon", user_id="alice", infer=False)["results"][0]["id"]
    assert mem.delete(memory_id) == {"message": "Memory deleted successfully!"}
    assert mem.get(memory_id) is None
    assert [h["event"] for h in mem.history(memory_id)] == ["ADD", "DELETE"]


def test_update_and_delete_of_an_unknown_id_raise_not_found(mem: Any) -> None:
    with pytest.raises(NotFoundError):
        mem.update("00000000-0000-0000-0000-000000000000", "x")
    with pytest.raises(NotFoundError):
        mem.delete("00000000-0000-0000-0000-000000000000")


def test_history_of_an_unknown_id_is_empty(mem: Any) -> None:
    assert mem.history("00000000-0000-0000-0000-000000000000") == []


def test_delete_all_needs_a_scope_and_touches_only_it(mem: Any) -> None:
    mem.add("I like tea", user_id="alice", infer=False)
    mem.add("I like coffee", user_id="bob", infer=False)
    with pytest.raises(ValidationError):
        mem.delete_all()
    assert mem.delete_all(user_id="alice") == {"message": "Memories deleted successfully!"}
    assert mem.get_all(user_id="alice")["results"] == []
    assert len(mem.get_all(user_id="bob")["results"]) == 1


def test_reads_need_a_scope(mem: Any) -> None:
    with pytest.raises(ValidationError):
        mem.search("tea")
    with pytest.raises(ValidationError):
        mem.get_all()


def test_bad_arguments_are_validation_errors(mem: Any) -> None:
    with pytest.raises(ValidationError):
        mem.search("tea", user_id="alice", limit=0)
    with pytest.raises(ValidationError):
        mem.add("", user_id="alice", infer=False)
    with pytest.raises(ValidationError):
        mem.get_all(user_id="alice", filters={"kind": {"regex": "x"}})


def test_infer_without_an_llm_is_a_config_error(mem: Any) -> None:
    with pytest.raises(ConfigError):
        mem.add("I like tea", user_id="alice")


def test_agent_and_run_scopes(mem: Any) -> None:
    mem.add("Use metric units", agent_id="planner", run_id="r1", infer=False)
    assert [i["memory"] for i in mem.get_all(agent_id="planner")["results"]] == ["Use metric units"]
    assert mem.get_all(agent_id="planner", run_id="r2")["results"] == []


def test_limit_and_top_k_cap_the_results(mem: Any) -> None:
    for text in ("I like tea", "I like green tea", "I like black tea"):
        mem.add(text, user_id="alice", infer=False)
    assert len(mem.search("tea", user_id="alice", limit=2)["results"]) == 2
    assert len(mem.search("tea", user_id="alice", top_k=1)["results"]) == 1
    assert len(mem.get_all(user_id="alice", limit=1)["results"]) == 1


def test_a_high_threshold_drops_weak_matches(mem: Any) -> None:
    mem.add("I like tea", user_id="alice", infer=False)
    assert mem.search("tea", user_id="alice", threshold=1e9)["results"] == []


def test_dated_updates_as_of_reads_and_episodes(mem: Any) -> None:
    memory_id = mem.add("Lives in Lisbon", user_id="alice", infer=False, timestamp="2024-01-10T09:00:00Z")["results"][
        0
    ]["id"]
    mem.update(memory_id, "Lives in Porto", timestamp="2024-03-05T18:00:00Z")
    item = mem.get(memory_id)
    assert (item["memory"], item["valid_from"], item["invalid_at"]) == (
        "Lives in Porto",
        "2024-03-05T18:00:00.000000+00:00",
        None,
    )
    assert [i["memory"] for i in mem.get_all(user_id="alice", as_of="2024-02-01")["results"]] == ["Lives in Lisbon"]
    assert [i["memory"] for i in mem.search("Lisbon", user_id="alice", as_of="2024-02-01")["results"]] == [
        "Lives in Lisbon"
    ]
    assert [i["memory"] for i in mem.get_all(user_id="alice")["results"]] == ["Lives in Porto"]
    assert [e["content"] for e in mem.episodes(memory_id)] == ["Lives in Lisbon"]
    assert mem.history(memory_id)[-1]["created_at"] == "2024-03-05T18:00:00.000000+00:00"
    with pytest.raises(ValidationError):
        mem.get_all(user_id="alice", as_of="last week")
    with pytest.raises(NotFoundError):
        mem.episodes("no-such-id")


def test_list_episodes_gives_a_scopes_messages_oldest_first_and_pages_back(mem: Any) -> None:
    for day, text in enumerate(["I adopted a parrot", "The parrot hates the kettle", "It learned my name"], start=1):
        mem.add([{"role": "user", "content": text}], user_id="alice", run_id="chat-1", infer=False,
                timestamp=f"2024-05-0{day}T10:00:00Z")  # fmt: skip
    mem.add("Someone else's message", user_id="bob", infer=False)

    latest = mem.list_episodes(user_id="alice", limit=2)["results"]
    assert [e["content"] for e in latest] == ["The parrot hates the kettle", "It learned my name"]
    assert (latest[0]["role"], latest[0]["run_id"]) == ("user", "chat-1")
    earlier = mem.list_episodes(user_id="alice", before=latest[0]["created_at"])["results"]
    assert [e["content"] for e in earlier] == ["I adopted a parrot"]
    assert mem.list_episodes(user_id="alice", run_id="chat-2")["results"] == []
    with pytest.raises(ValidationError):
        mem.list_episodes()  # a scope is required, as for get_all
    with pytest.raises(ValidationError):
        mem.list_episodes(user_id="alice", limit=0)


def test_search_returns_what_was_said_beside_the_results_when_asked(mem: Any) -> None:
    mem.add(
        [{"role": "user", "content": "I adopted a parrot"}, {"role": "user", "content": "The parrot hates the kettle"}],
        user_id="alice",
        infer=False,
    )
    found = mem.search("parrot kettle", user_id="alice", limit=1, episodes=3)
    [result] = found["results"]
    [episode] = found["episodes"]  # the result's own message is left out
    assert {result["memory"], episode["content"]} == {"I adopted a parrot", "The parrot hates the kettle"}
    assert episode["score"] == 1.0 and episode["role"] == "user" and episode["user_id"] == "alice"
    assert episode["memory_ids"] and result["id"] not in episode["memory_ids"]
    assert "episodes" not in mem.search("parrot", user_id="alice")
    with pytest.raises(ValidationError):
        mem.search("parrot", user_id="alice", episodes=-1)


def test_search_explains_each_score_only_when_asked(mem: Any) -> None:
    mem.add("Ana paints seascapes on Sundays", user_id="alice", infer=False)
    mem.add("I play the cello", user_id="alice", infer=False)
    plain = mem.search("paints seascapes", user_id="alice", limit=2)["results"]
    assert all("explain" not in item for item in plain)
    explained = mem.search("paints seascapes", user_id="alice", limit=2, explain=True)["results"]
    assert [item["memory"] for item in explained] == [item["memory"] for item in plain]
    first = explained[0]["explain"]
    assert first["rank"] == 1
    assert first["keyword"] == 1.0  # the best keyword match counts 1
    boosts = first["speaker"] + first["session"] + first["dated"]
    assert first["fused"] + boosts == pytest.approx(explained[0]["score"], abs=1e-5)
