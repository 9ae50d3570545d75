"""Export and import (DESIGN.md section 1d): JSON Lines, scoped or whole, idempotent, either store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest_pg import MemoryFactory
from engram import Memory, ValidationError
from engram.embedders.hashing import HashingEmbedder
from engram.storage import SQLiteStore
from engram.storage.postgres import PostgresSettings, PostgresStore

DAY = datetime(2024, 3, 1, 9, tzinfo=UTC)


def fill(memory: Memory) -> dict[str, str]:
    """Two users' memories with metadata, an update, a deletion and an expiry; returns some ids."""
    turns = [{"role": "user", "content": "I adopted a parrot"}, {"role": "assistant", "content": "What is its name?"}]
    parrot = memory.add(turns, user_id="alice", infer=False, timestamp=DAY)["results"][0]["id"]
    tea = memory.add(
        "Likes green tea", user_id="alice", infer=False, metadata={"topic": "food", "n": [1, 2.5]}, timestamp=DAY
    )
    memory.update(tea["results"][0]["id"], "Likes jasmine tea", timestamp=DAY + timedelta(days=3))  # a version
    gone = memory.add("Temporary note", user_id="alice", infer=False)["results"][0]["id"]
    memory.delete(gone)
    memory.add("Plays chess", user_id="bob", agent_id="coach", infer=False, expiration_date="2999-01-01")
    memory.add("Ünïcode ✓ 🍵", run_id="r1", infer=False)
    return {"parrot": parrot, "tea": tea["results"][0]["id"]}


def everything(memory: Memory) -> list[dict[str, object]]:
    items = []
    for scope in ({"user_id": "alice"}, {"user_id": "bob"}, {"run_id": "r1"}):
        items += memory.get_all(**scope)["results"]  # type: ignore[arg-type]
    return sorted(items, key=lambda item: str(item["id"]))


def test_export_then_import_into_an_empty_store_gives_the_same_memories(
    memory_factory: MemoryFactory, tmp_path: Path
) -> None:
    source = memory_factory()
    ids = fill(source)
    path = tmp_path / "all.jsonl"
    assert source.export_jsonl(path, vectors=True)["memories"] == 5
    target = Memory(store=SQLiteStore(tmp_path / "target.db"), embedder=HashingEmbedder())
    report = target.import_jsonl(path)
    assert report == {"memories": 5, "imported": 5, "recomputed_vectors": False}
    assert everything(target) == everything(source)
    assert target.history(ids["tea"]) == source.history(ids["tea"])
    assert target.search("parrot", user_id="alice")["results"][0]["id"] == ids["parrot"]
    as_of = DAY + timedelta(days=1)
    then_target, then_source = (m.get_all(user_id="alice", as_of=as_of)["results"] for m in (target, source))
    assert sorted(then_target, key=lambda item: item["id"]) == sorted(then_source, key=lambda item: item["id"])
    then = sorted(item["memory"] for item in target.get_all(user_id="alice", as_of=as_of)["results"])
    assert then == ["I adopted a parrot", "Likes green tea", "What is its name?"]
    assert target.episodes(ids["parrot"]) == source.episodes(ids["parrot"]) != []


def test_a_scoped_export_holds_only_that_scope(memory_factory: MemoryFactory, tmp_path: Path) -> None:
    source = memory_factory()
    fill(source)
    path = tmp_path / "bob.jsonl"
    source.export_jsonl(path, user_id="bob")
    header, *lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert header["scope"] == {"user_id": "bob"}
    assert [line["memory"]["memory"] for line in lines] == ["Plays chess"]
    assert "vector" not in lines[0]


def test_importing_the_same_file_twice_changes_nothing(memory_factory: MemoryFactory, tmp_path: Path) -> None:
    source = memory_factory()
    fill(source)
    path = tmp_path / "all.jsonl"
    source.export_jsonl(path)
    target = memory_factory()  # the same database: every memory is already there
    assert target.import_jsonl(path)["imported"] == 0
    empty = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    assert empty.import_jsonl(path)["imported"] == 5
    before = (everything(empty), empty.stats())
    assert empty.import_jsonl(path)["imported"] == 0
    assert (everything(empty), empty.stats()) == before


def test_a_malformed_line_is_refused_with_its_number_and_nothing_is_written(tmp_path: Path) -> None:
    source = Memory(store=SQLiteStore(tmp_path / "s.db"), embedder=HashingEmbedder())
    fill(source)
    path = tmp_path / "all.jsonl"
    source.export_jsonl(path)
    lines = path.read_text().splitlines()
    broken = json.loads(lines[3])
    broken["memory"]["created_at"] = "yesterday"
    lines[3] = json.dumps(broken)
    path.write_text("\n".join(lines) + "\n")
    target = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    with pytest.raises(ValidationError, match=r"all\.jsonl:4: .*nothing was imported"):
        target.import_jsonl(path)
    assert target.stats()["memories"] == 0 and target.stats()["history"] == 0


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"memory": {"id": "x", "memory": "text", "created_at": "2024-01-01T00:00:00+00:00"}}', "no user_id"),
        ('{"memory": {"id": "x", "memory": "", "user_id": "u"}}', "memory must be a non-empty string"),
    ],
)
def test_each_kind_of_bad_line_names_its_problem(tmp_path: Path, line: str, problem: str) -> None:
    header = {"format": "engram-export", "version": 1, "embedder": {"model": "m", "dimension": 4}, "scope": {}}
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(header) + "\n" + line + "\n")
    target = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    with pytest.raises(ValidationError, match=rf"bad\.jsonl:2: .*{problem}"):
        target.import_jsonl(path)


def test_a_memory_twice_in_one_file_is_refused(tmp_path: Path) -> None:
    source = Memory(store=SQLiteStore(tmp_path / "s.db"), embedder=HashingEmbedder())
    fill(source)
    path = tmp_path / "all.jsonl"
    source.export_jsonl(path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[2]]) + "\n")
    target = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    with pytest.raises(ValidationError, match=r"all\.jsonl:7: memory .* is already on line 3"):
        target.import_jsonl(path)
    assert target.stats()["memories"] == 0


def test_a_file_that_is_not_an_export_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text('{"hello": "world"}\n')
    target = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    with pytest.raises(ValidationError, match=r"other\.jsonl:1: not an engram export"):
        target.import_jsonl(path)


def test_import_under_another_embedder_recomputes_the_vectors(memory_factory: MemoryFactory, tmp_path: Path) -> None:
    source = memory_factory()
    ids = fill(source)
    path = tmp_path / "all.jsonl"
    source.export_jsonl(path, vectors=True)
    target = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder(dimension=64))
    assert target.import_jsonl(path)["recomputed_vectors"] is True
    assert everything(target) == everything(source)
    hits = target.search("parrot adopted", user_id="alice")["results"]
    assert hits[0]["id"] == ids["parrot"]


def test_round_trip_sqlite_jsonl_postgres_jsonl_is_identical(
    tmp_path: Path, postgres_url: str, postgres_schema: str
) -> None:
    sqlite = Memory(store=SQLiteStore(tmp_path / "s.db"), embedder=HashingEmbedder())
    fill(sqlite)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    sqlite.export_jsonl(first, vectors=True)
    postgres_store = PostgresStore(postgres_url, PostgresSettings(schema=postgres_schema))
    with Memory(store=postgres_store, embedder=HashingEmbedder()) as postgres:
        postgres.import_jsonl(first)
        postgres.export_jsonl(second, vectors=True)
    assert second.read_text() == first.read_text()


def test_export_of_an_empty_store_is_only_the_header(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    memory = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    assert memory.export_jsonl(path)["memories"] == 0
    [header] = path.read_text().splitlines()
    assert json.loads(header)["format"] == "engram-export"
