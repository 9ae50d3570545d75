"""Export and import (DESIGN.md section 1d): JSON Lines, scoped or whole, idempotent, either store."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conftest_pg import MemoryFactory
from engram import Memory, ValidationError
from engram.embedders.hashing import HashingEmbedder
from engram.errors import StorageError
from engram.models import Scope
from engram.portability import export_file, write_export
from engram.storage import SQLiteStore
from engram.storage.base import ExportedMemory
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
    with pytest.raises(ValidationError, match=rf"all\.jsonl:{len(lines) + 1}: memory .* is already on line 3"):
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


# -- all or nothing: every value is checked against what every store accepts before any write ------

WHEN = "2024-01-01T00:00:00+00:00"


def memory_entry(i: int) -> dict[str, Any]:
    memory_id = f"m{i:04d}"
    return {
        "memory": {
            "id": memory_id,
            "memory": f"note {i}",
            "user_id": "alice",
            "created_at": WHEN,
            "metadata": {"n": i},
        },
        "history": [
            {"id": f"h{i:04d}", "memory_id": memory_id, "event": "ADD", "new_memory": f"note {i}", "created_at": WHEN}
        ],
        "episodes": [{"id": f"e{i:04d}", "role": "user", "content": f"note {i}", "created_at": WHEN}],
    }


def write_export_file(path: Path, entries: list[dict[str, Any]], version: int = 2) -> Path:
    header = {"format": "engram-export", "version": version, "embedder": {"model": "hashing-256", "dimension": 256}}
    # allow_nan: json writes NaN and Infinity as the bare tokens a hostile file would hold
    path.write_text("\n".join(json.dumps(line, allow_nan=True) for line in [{**header, "scope": {}}, *entries]) + "\n")
    return path


BAD_VALUES: dict[str, Callable[[dict[str, Any]], None]] = {
    "a NUL in the text": lambda line: line["memory"].update(memory="note\x00590"),
    "a lone surrogate in the text": lambda line: line["memory"].update(memory="note \ud800"),
    "NaN in metadata": lambda line: line["memory"]["metadata"].update(score=float("nan")),
    "Infinity in metadata": lambda line: line["memory"]["metadata"].update(score=float("inf")),
    "a NUL in a metadata key": lambda line: line["memory"]["metadata"].update({"k\x00": 1}),
    "a NUL in a history row": lambda line: line["history"][0].update(new_memory="a\x00b"),
    "a lone surrogate in an episode": lambda line: line["episodes"][0].update(content="\udc80"),
    "a keyword_text that is not a string": lambda line: line.update(keyword_text=5),
}


@pytest.mark.parametrize("bad", BAD_VALUES)
def test_a_bad_value_on_line_591_of_600_leaves_nothing_imported(
    memory_factory: MemoryFactory, tmp_path: Path, bad: str
) -> None:
    entries = [memory_entry(i) for i in range(600)]
    BAD_VALUES[bad](entries[589])  # line 591: the header is line 1
    path = write_export_file(tmp_path / "bad.jsonl", entries)
    target = memory_factory()
    with pytest.raises(ValidationError, match=r"bad\.jsonl:591: .*nothing was imported"):
        target.import_jsonl(path)
    stats = target.stats()
    assert (stats["memories"], stats["history"], stats["episodes"]) == (0, 0, 0)


def test_the_same_600_lines_without_the_bad_value_import_whole(memory_factory: MemoryFactory, tmp_path: Path) -> None:
    path = write_export_file(tmp_path / "good.jsonl", [memory_entry(i) for i in range(600)])
    target = memory_factory()
    assert target.import_jsonl(path) == {"memories": 600, "imported": 600, "recomputed_vectors": True}
    assert (target.stats()["memories"], target.stats()["history"]) == (600, 600)


def test_a_file_that_is_not_utf8_is_a_validation_error(memory_factory: MemoryFactory, tmp_path: Path) -> None:
    path = write_export_file(tmp_path / "latin1.jsonl", [memory_entry(i) for i in range(3)])
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b"note 1", b"caf\xe9 1")  # Latin-1, not UTF-8
    path.write_bytes(b"".join(lines))
    target = memory_factory()
    with pytest.raises(ValidationError, match=r"latin1\.jsonl:3: not UTF-8 text .*nothing was imported"):
        target.import_jsonl(path)
    assert target.stats()["memories"] == 0


def test_a_file_of_format_version_1_still_imports(memory_factory: MemoryFactory, tmp_path: Path) -> None:
    path = write_export_file(tmp_path / "v1.jsonl", [memory_entry(i) for i in range(2)], version=1)
    assert memory_factory().import_jsonl(path)["imported"] == 2


class FailingStore(SQLiteStore):
    """A SQLite store whose second import transaction fails, as a full disk would."""

    batches = 0

    def import_memories(self, memories: Sequence[ExportedMemory]) -> int:
        self.batches += 1
        if self.batches == 2:
            raise StorageError("disk I/O error")
        return super().import_memories(memories)


def test_a_store_failure_midway_says_how_far_the_import_got_and_a_rerun_finishes(tmp_path: Path) -> None:
    path = write_export_file(tmp_path / "all.jsonl", [memory_entry(i) for i in range(600)])
    failing = Memory(store=FailingStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    with pytest.raises(StorageError, match=r"disk I/O error; 500 of 600 memories were imported .*run the same import"):
        failing.import_jsonl(path)
    failing.close()
    target = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    assert target.import_jsonl(path)["imported"] == 100
    assert target.stats()["memories"] == 600


def test_a_mem0_memory_no_store_can_hold_stops_the_import_before_any_write(tmp_path: Path) -> None:
    from engram.mem0_import import import_mem0_memories

    class Mem0Source:
        """What import_mem0_memories reads of a mem0 Memory: its vector store, get_all, history."""

        def __init__(self) -> None:
            items = [{"id": f"m{i}", "memory": f"note {i}", "user_id": "alice"} for i in range(3)]
            items[2]["memory"] = "note\x00 2"
            self.items = items
            self.vector_store = self

        def list(self, filters: dict[str, Any], top_k: int) -> list[Any]:
            return [[SimpleNamespace(payload={"user_id": "alice"})]]

        def get_all(self, filters: dict[str, Any], limit: int) -> dict[str, Any]:
            return {"results": self.items}

        def history(self, memory_id: str) -> list[dict[str, Any]]:
            return []

    target = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    with pytest.raises(ValidationError, match=r"mem0 memory m2: .*NUL.*nothing was imported"):
        import_mem0_memories(target.store, target.embedder, Mem0Source())
    assert target.stats()["memories"] == 0


# -- the audit trail of deleted memories moves too ----------------------------------------------------


def test_a_deleted_memorys_history_line_is_imported_once_as_tombstones(
    memory_factory: MemoryFactory, tmp_path: Path
) -> None:
    """A file written before deletion erased history text still carries it: the import keeps none."""
    deleted = {
        "deleted_memory_id": "gone",
        "history": [
            {"id": "h-add", "memory_id": "gone", "event": "ADD", "new_memory": "Temporary", "created_at": WHEN},
            {"id": "h-del", "memory_id": "gone", "event": "DELETE", "created_at": WHEN, "is_deleted": True},
        ],
    }
    path = write_export_file(tmp_path / "v2.jsonl", [memory_entry(0), deleted])
    target = memory_factory()
    for again in (False, True):  # the second import adds nothing
        assert target.import_jsonl(path)["imported"] == (0 if again else 1)
        assert [(row["event"], row["new_memory"]) for row in target.history("gone")] == [
            ("ADD", None),
            ("DELETE", None),
        ]


def test_a_deleted_memory_also_on_a_memory_line_is_refused(tmp_path: Path) -> None:
    deleted = {"deleted_memory_id": "m0000", "history": []}
    path = write_export_file(tmp_path / "twice.jsonl", [memory_entry(0), deleted])
    target = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    with pytest.raises(ValidationError, match=r"twice\.jsonl:3: memory m0000 is already on line 2"):
        target.import_jsonl(path)


def test_export_then_import_keeps_the_history_of_deleted_memories(
    memory_factory: MemoryFactory, tmp_path: Path
) -> None:
    source = memory_factory()
    gone = source.add("Temporary note", user_id="alice", infer=False)["results"][0]["id"]
    source.delete(gone)
    source.add("Plays chess", user_id="alice", infer=False)
    path = tmp_path / "all.jsonl"
    source.export_jsonl(path)
    target = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    target.import_jsonl(path)
    assert [row["event"] for row in target.history(gone)] == ["ADD", "DELETE"]
    assert target.history(gone) == source.history(gone)


# -- export: scope ids and targets are checked first -----------------------------------------------


def test_an_export_scope_no_store_can_hold_is_a_validation_error(tmp_path: Path) -> None:
    memory = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    with pytest.raises(ValidationError, match="user_id contains a lone surrogate"):
        write_export(memory.store, memory.embedder, io.StringIO(), Scope(user_id="\ud800"))
    with pytest.raises(ValidationError, match="user_id contains a lone surrogate"):
        memory.export_jsonl(tmp_path / "out.jsonl", user_id="\ud800")


def test_export_file_refuses_a_folder_or_a_missing_folder_and_leaves_nothing(tmp_path: Path) -> None:
    memory = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    memory.add("Likes tea", user_id="alice", infer=False)
    (tmp_path / "backups").mkdir()
    with pytest.raises(ValidationError, match="it is a folder"):
        export_file(memory.store, memory.embedder, tmp_path / "backups", None)
    with pytest.raises(ValidationError, match="does not exist"):
        export_file(memory.store, memory.embedder, tmp_path / "nowhere" / "out.jsonl", None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backups", "t.db", "t.db-shm", "t.db-wal"]


def test_an_export_that_fails_midway_leaves_no_partial_file(tmp_path: Path) -> None:
    class BrokenStore(SQLiteStore):
        def export_memories(self, scope: Scope | None, batch: int = 1000) -> Iterator[list[ExportedMemory]]:
            yield from super().export_memories(scope, batch)
            raise StorageError("the database went away")

    memory = Memory(store=BrokenStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    memory.add("Likes tea", user_id="alice", infer=False)
    with pytest.raises(StorageError, match="went away"):
        export_file(memory.store, memory.embedder, tmp_path / "out.jsonl", None)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("out.jsonl")]


@pytest.mark.parametrize("target", ["a-folder", "nowhere/out.jsonl"])
def test_memory_export_to_a_bad_target_is_a_validation_error_and_leaves_no_partial_file(
    tmp_path: Path, target: str
) -> None:
    memory = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(ValidationError):
        memory.export_jsonl(tmp_path / target)
    assert not list(tmp_path.glob("**/*.partial"))


def test_memory_export_with_a_bad_scope_leaves_no_partial_file(tmp_path: Path) -> None:
    memory = Memory(store=SQLiteStore(tmp_path / "t.db"), embedder=HashingEmbedder())
    with pytest.raises(ValidationError):
        memory.export_jsonl(tmp_path / "out.jsonl", user_id="\ud800")
    assert not list(tmp_path.glob("*.partial"))
