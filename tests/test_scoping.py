"""Every memory belongs to a scope, and a scope never sees another's memories."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram import Memory, ValidationError
from engram.embedders.hashing import HashingEmbedder


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.add("x", infer=False),
        lambda m: m.search("x"),
        lambda m: m.get_all(),
        lambda m: m.delete_all(),
        lambda m: m.add("x", actor_id="a", infer=False),  # an actor alone owns nothing
    ],
)
def test_every_verb_on_memories_requires_a_scope(memory: Memory, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="user_id, agent_id or run_id"):
        call(memory)


@pytest.mark.parametrize("bad", ["", "   ", "\t\n"])
def test_empty_or_whitespace_ids_are_rejected(memory: Memory, bad: str) -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        memory.add("x", user_id=bad, infer=False)
    with pytest.raises(ValidationError, match="must not be empty"):
        memory.search("x", user_id="u", agent_id=bad)


def test_non_string_ids_are_rejected(memory: Memory) -> None:
    with pytest.raises(ValidationError, match="must be a string"):
        memory.get_all(user_id=42)  # type: ignore[arg-type]


def test_user_a_never_sees_user_b(memory: Memory) -> None:
    memory.add("Alice's bank PIN is 1234", user_id="alice", infer=False)
    memory.add("Bob likes fishing", user_id="bob", infer=False)
    assert [m["memory"] for m in memory.search("bank PIN", user_id="bob")["results"]] == ["Bob likes fishing"]
    assert [m["memory"] for m in memory.get_all(user_id="bob")["results"]] == ["Bob likes fishing"]


def test_identity_keys_inside_metadata_never_change_the_scope(memory: Memory) -> None:
    memory.add("x", user_id="alice", infer=False, metadata={"user_id": "bob", "agent_id": "evil", "topic": "t"})
    assert memory.get_all(user_id="bob")["results"] == []
    item = memory.get_all(user_id="alice")["results"][0]
    assert item["user_id"] == "alice"
    assert "agent_id" not in item
    assert item["metadata"] == {"topic": "t"}


def test_scope_ids_narrow_together(memory: Memory) -> None:
    memory.add("from run 1", user_id="u", run_id="r1", infer=False)
    memory.add("from run 2", user_id="u", run_id="r2", infer=False)
    memory.add("agent note", agent_id="helper", infer=False)
    assert len(memory.get_all(user_id="u")["results"]) == 2
    assert [m["memory"] for m in memory.get_all(user_id="u", run_id="r2")["results"]] == ["from run 2"]
    assert [m["memory"] for m in memory.get_all(agent_id="helper")["results"]] == ["agent note"]


def test_actor_id_narrows_reads_within_the_scope(memory: Memory) -> None:
    memory.add("said by alice", run_id="chat", actor_id="alice", infer=False)
    memory.add("said by bob", run_id="chat", actor_id="bob", infer=False)
    assert [m["memory"] for m in memory.get_all(run_id="chat", filters={"actor_id": "bob"})["results"]] == [
        "said by bob"
    ]
    assert [m["memory"] for m in memory.search("said", run_id="chat", actor_id="alice")["results"]] == ["said by alice"]


def test_keyword_and_filter_scope_must_agree(memory: Memory) -> None:
    with pytest.raises(ValidationError, match="give one"):
        memory.get_all(user_id="a", filters={"user_id": "b"})


def test_delete_all_over_5000_memories_touches_only_that_user(tmp_path: Path) -> None:
    config = {"vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "big.db")}}}
    with Memory(config, embedder=HashingEmbedder()) as memory:
        for start in range(0, 5_000, 500):
            batch = [{"role": "user", "content": f"alice fact {i}"} for i in range(start, start + 500)]
            memory.add(batch, user_id="alice", infer=False)
        memory.add([{"role": "user", "content": f"bob fact {i}"} for i in range(300)], user_id="bob", infer=False)
        assert len(memory.get_all(user_id="alice", limit=10_000)["results"]) == 5_000

        memory.delete_all(user_id="alice")

        assert memory.get_all(user_id="alice", limit=10_000)["results"] == []
        assert memory.search("fact", user_id="alice")["results"] == []
        assert len(memory.get_all(user_id="bob", limit=10_000)["results"]) == 300
