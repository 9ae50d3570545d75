"""The campaign for export and import: hostile export files and hostile arguments.

A file is a real export (versions, deleted memories' history, episodes, graph rows, vectors,
metadata of every JSON type) with one or two mutations of every kind a file can suffer: a value
replaced by any JSON (NaN, Infinity, huge numbers, deep nesting, NUL, lone surrogates, wrong
types), lines dropped, duplicated or inserted, bytes that are not UTF-8, a cut-off file. Import
must answer with an engram error or import the whole file: never half of it, never a value that
breaks a later read. Both stores must accept the same files, and give back the same export.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest_pg import MemoryFactory
from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.errors import EngramError, ValidationError
from engram.llms.scripted import ScriptedLLM
from engram.portability import write_export
from engram.storage import SQLiteStore
from engram.storage.postgres import PostgresSettings, PostgresStore
from hostile_answers import hostile_file
from test_hypothesis_campaign import CAMPAIGN, NUMBER, SCOPE_ID, TEXT

METADATA = {"n": 1, "f": 1.5, "big": 2**63 - 1, "neg": -0.0, "e": 1e16, "huge": 1e308, "s": "x", "l": [1, "a"]}
GRAPH_ANSWER = json.dumps(
    {
        "facts": [{"text": "Ana works at Google", "about": "Ana: employer"}],
        "forget": [],
        "entities": [{"name": "Ana", "type": "person"}, {"name": "Google", "type": "organisation"}],
        "relations": [{"source": "Ana", "relationship": "works_at", "destination": "Google"}],
    }
)


def _exported(memory: Memory) -> list[bytes]:
    out = io.StringIO()
    write_export(memory.store, memory.embedder, out, None, vectors=True)
    return [line.encode("utf-8") for line in out.getvalue().splitlines(keepends=True)]


@pytest.fixture(scope="module")
def export_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """A real export holding every kind of line and field."""
    path = tmp_path_factory.mktemp("source") / "source.db"
    llm = ScriptedLLM([GRAPH_ANSWER, '{"summary": "ran the tests"}'])
    config = {"graph_store": {"provider": "sqlite"}}
    with Memory(config, store=SQLiteStore(path), embedder=HashingEmbedder(), llm=llm) as source:
        kept = source.add("I like tea", user_id="alice", infer=False, metadata=METADATA)["results"][0]["id"]
        source.add([{"role": "user", "content": "My sister Ana works at Google", "name": "Al"}], user_id="alice")
        source.update(kept, "I like green tea", timestamp="2030-01-01T00:00:00Z")
        source.update(kept, "I like green tea a lot")
        gone = source.add("delete me", user_id="alice", infer=False)["results"][0]["id"]
        source.delete(gone)
        source.add("expires", run_id="r", infer=False, expiration_date="2031-01-01")
        source.add("ran pytest", agent_id="bot", memory_type="procedural_memory")
        return _exported(source)


def _contents(memory: Memory) -> tuple[dict[str, Any], list[bytes]]:
    """What the store holds: its counts and its whole export."""
    return memory.stats(), _exported(memory)[1:]


def _imported(memory: Memory, path: Path) -> dict[str, Any] | None:
    """Import ``path`` into an empty store: the report, or None when refused with nothing written."""
    memory.reset()
    empty = _contents(memory)
    try:
        return memory.import_jsonl(path)
    except EngramError:
        assert _contents(memory) == empty, "a refused import wrote something"
        return None


def _scopes_read(memory: Memory) -> None:
    """Every scope the store holds reads without a storage error, filtered or not."""
    for scope in memory.scopes()["results"]:
        ids = {key: scope[key] for key in ("user_id", "agent_id", "run_id") if scope.get(key)}
        with contextlib.suppress(ValidationError):  # a scope id of blanks: imported, not readable by id
            memory.get_all(**ids, filters={"n": {"in": [1, "a", 1.5]}})
            memory.search("tea", **ids, filters={"OR": [{"f": {"gte": 1}}, {"s": "x"}]})
            memory.browse(**ids, sort="updated_at")
            memory.stats(**{key: value for key, value in ids.items() if key != "actor_id"})


@pytest.fixture
def target(memory_factory: MemoryFactory) -> Memory:
    return memory_factory()


@CAMPAIGN
@given(data=st.data())
def test_a_hostile_export_file_is_imported_whole_or_not_at_all(
    target: Memory, export_lines: list[bytes], tmp_path: Path, data: st.DataObject
) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(data.draw(hostile_file(export_lines)))
    report = _imported(target, path)
    if report is None:
        return
    _scopes_read(target)
    again = target.import_jsonl(path)
    assert again["imported"] == 0  # importing the same file twice changes nothing
    target.export_jsonl(tmp_path / "again.jsonl")


@pytest.fixture
def both_stores(postgres_url: str, postgres_schema: str, tmp_path: Path) -> Iterator[tuple[Memory, Memory]]:
    """A Memory on SQLite and one on PostgreSQL, with the same embedder."""
    sqlite = Memory(store=SQLiteStore(tmp_path / "both.db"), embedder=HashingEmbedder())
    postgres = Memory(
        store=PostgresStore(postgres_url, PostgresSettings(schema=postgres_schema)), embedder=HashingEmbedder()
    )
    yield sqlite, postgres
    sqlite.close()
    postgres.close()


@CAMPAIGN
@given(data=st.data())
def test_both_stores_accept_the_same_files_and_give_back_the_same_export(
    both_stores: tuple[Memory, Memory], export_lines: list[bytes], tmp_path: Path, data: st.DataObject
) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(data.draw(hostile_file(export_lines)))
    sqlite, postgres = both_stores
    reports = [_imported(sqlite, path), _imported(postgres, path)]
    assert (reports[0] is None) == (reports[1] is None), f"one store refused the file, the other took it: {reports}"
    if reports[0] is not None:
        assert _exported(sqlite)[1:] == _exported(postgres)[1:]


@CAMPAIGN
@given(
    path=TEXT | NUMBER | st.none() | st.sampled_from(["-", "", ".", "missing/x.jsonl", "~/", "a" * 300]),
    user_id=SCOPE_ID,
    agent_id=SCOPE_ID,
    run_id=SCOPE_ID,
    vectors=st.booleans() | NUMBER,
)
def test_export_and_import_with_hostile_arguments_raise_only_engram_errors(
    target: Memory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    path: Any,
    user_id: Any,
    agent_id: Any,
    run_id: Any,
    vectors: Any,
) -> None:
    target.add("I like tea", user_id="u", infer=False)
    where = str(tmp_path / path) if isinstance(path, str) and path not in ("-", "~/") else path
    with contextlib.suppress(EngramError):
        target.export_jsonl(where, user_id=user_id, agent_id=agent_id, run_id=run_id, vectors=vectors)
    capsys.readouterr()
    with contextlib.suppress(EngramError):
        target.import_jsonl(where)
