"""Every change leaves a history row, and history outlives the memory as tombstones (no text)."""

from __future__ import annotations

from engram import Memory


def test_add_update_delete_leaves_three_rows_in_order_and_delete_takes_their_text(memory: Memory) -> None:
    memory_id = memory.add("Lives in Paris", user_id="u", infer=False)["results"][0]["id"]
    memory.update(memory_id, data="Lives in Berlin")
    assert [(r["event"], r["old_memory"], r["new_memory"]) for r in memory.history(memory_id)] == [
        ("ADD", None, "Lives in Paris"),
        ("UPDATE", "Lives in Paris", "Lives in Berlin"),
    ]
    memory.delete(memory_id)

    rows = memory.history(memory_id)

    assert [(r["event"], r["old_memory"], r["new_memory"], r["is_deleted"]) for r in rows] == [
        ("ADD", None, None, False),
        ("UPDATE", None, None, False),
        ("DELETE", None, None, True),
    ]
    assert {r["memory_id"] for r in rows} == {memory_id}
    assert set(rows[0]) == {
        "id",
        "memory_id",
        "old_memory",
        "new_memory",
        "event",
        "created_at",
        "updated_at",
        "is_deleted",
        "actor_id",
        "role",
        "user_id",
        "agent_id",
        "run_id",
    }
    assert (rows[0]["user_id"], rows[0]["agent_id"], rows[0]["run_id"]) == ("u", None, None)


def test_history_records_actor_and_role(memory: Memory) -> None:
    memory_id = memory.add({"role": "user", "content": "I run marathons"}, run_id="r", actor_id="alice", infer=False)[
        "results"
    ][0]["id"]
    row = memory.history(memory_id)[0]
    assert (row["actor_id"], row["role"]) == ("alice", "user")


def test_delete_all_writes_a_delete_row_per_memory(memory: Memory) -> None:
    ids = [r["id"] for r in memory.add([{"content": "a"}, {"content": "b"}], user_id="u", infer=False)["results"]]
    memory.delete_all(user_id="u")
    assert [[r["event"] for r in memory.history(i)] for i in ids] == [["ADD", "DELETE"], ["ADD", "DELETE"]]


def test_a_duplicate_add_writes_no_history(memory: Memory) -> None:
    memory_id = memory.add("same", user_id="u", infer=False)["results"][0]["id"]
    memory.add("same", user_id="u", infer=False)
    assert [r["event"] for r in memory.history(memory_id)] == ["ADD"]
