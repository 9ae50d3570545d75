"""Erasure that leaves nothing: after delete, delete_all or erase_scope, no erased text is left in
the database (on SQLite: in the bytes of the file, its WAL and its journal), history keeps tombstones,
other scopes keep everything, and an erased scope leaves a receipt."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql

from conftest_pg import StoreFactory
from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.errors import StorageError
from engram.models import (
    Entity,
    Episode,
    Event,
    HistoryRecord,
    MemoryRecord,
    Relation,
    Scope,
    memory_hash,
    scope_digest,
)
from engram.storage import SQLiteStore, Store
from engram.storage import sqlite as sqlite_store
from engram.storage.base import Query
from engram.storage.postgres import PostgresStore

T0 = datetime(2024, 5, 1, tzinfo=UTC)
DIMENSION = 8
ERASED, KEPT = Scope("alice@example.com"), Scope("bob")


def vector(seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
    return values / np.linalg.norm(values)


def record(text: str, owner: Scope, when: datetime, metadata: dict[str, str] | None = None) -> MemoryRecord:
    return MemoryRecord(
        str(uuid.uuid4()), text, memory_hash(text), when, when, metadata or {}, owner.user_id, valid_from=when
    )


def fill_scope(store: Store, owner: Scope, tag: str) -> list[str]:
    """A scope's data of every kind (a memory with an earlier version, a second memory, episodes (one
    long enough for overflow pages), history, metadata, entities and a relation), each text holding a
    token made from ``tag``. Returns the tokens."""
    tokens = [f"{tag}{kind}7" for kind in ("old", "new", "idx", "meta", "two", "epi", "name", "long", "ent", "rel")]
    old, new, idx, meta, two, epi, name, long, ent, rel = tokens
    first = record(f"Lives in Porto {old}", owner, T0, {"note": f"private {meta}"})
    current = record(f"Lives in Lisbon {new}", owner, T0 + timedelta(days=30), first.metadata)
    current.id = first.id
    second = record(f"Owns a cat {two}", owner, T0)
    said = [
        Episode(str(uuid.uuid4()), "user", f"I moved to Lisbon {epi}", T0, 0, name, owner.user_id),
        Episode(str(uuid.uuid4()), "user", f"{long} " * 1500, T0, 1, None, owner.user_id),
    ]
    source = Entity(str(uuid.uuid4()), f"{ent.title()} Smith", f"{ent} smith", owner, T0)
    place = Entity(str(uuid.uuid4()), "Lisbon", "lisbon", owner, T0)
    with store.transaction():
        store.insert_memory(first, vector(1), f"{first.memory} {idx}")
        store.archive_memory(first.id, current.valid_from or T0)
        store.update_memory(current, vector(2), f"{current.memory} {idx}")
        store.insert_memory(second, vector(3), second.memory)
        store.add_history([_history(Event.ADD, None, first), _history(Event.UPDATE, first, current)])
        store.add_history([_history(Event.ADD, None, second)])
        store.add_episodes(said)
        store.link_episodes([(first.id, said[0].id), (second.id, said[1].id)])
        store.graph.save_entities([(source, vector(4)), (place, vector(5))])
        store.graph.link_memories([(first.id, source.id), (first.id, place.id)])
        store.graph.insert_relations(
            [Relation(str(uuid.uuid4()), source.id, rel, place.id, owner, T0, T0, memory_ids=(first.id,))]
        )
    return tokens


def _history(event: Event, old: MemoryRecord | None, new: MemoryRecord) -> HistoryRecord:
    return HistoryRecord(
        str(uuid.uuid4()), new.id, old.memory if old else None, new.memory, event, new.created_at, user_id=new.user_id
    )


def in_files(path: Path, tokens: list[str]) -> set[str]:
    """The tokens that any file of the database (main, WAL, journal, shared memory) still holds, as bytes."""
    found = set()
    for suffix in ("", "-wal", "-journal", "-shm"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            data = part.read_bytes().lower()
            found |= {token for token in tokens if token.encode() in data}
    return found


def table_hits(store: Store, tokens: list[str]) -> dict[str, int]:
    """Per table of the store, how many rows hold any of the tokens in any column."""
    if isinstance(store, PostgresStore):
        return _postgres_table_hits(store, tokens)
    assert isinstance(store, SQLiteStore)
    db = sqlite3.connect(store.path)
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        hits = {}
        for table in tables:
            columns = [row[1] for row in db.execute(f"PRAGMA table_info('{table}')")]
            rows = db.execute(f"SELECT {', '.join(f'quote({c})' for c in columns) or '1'} FROM '{table}'").fetchall()
            hits[table] = sum(any(token in repr(row).lower() for token in tokens) for row in rows)
    finally:
        db.close()
    return {table: count for table, count in hits.items() if count}


def _postgres_table_hits(store: PostgresStore, tokens: list[str]) -> dict[str, int]:
    hits = {}
    with psycopg.connect(store.url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (store.settings.schema,)
            )
        ]
        for table in tables:
            query = sql.SQL("SELECT count(*) FROM {}.{} AS t WHERE lower(t::text) LIKE ANY(%s)").format(
                sql.Identifier(store.settings.schema), sql.Identifier(table)
            )
            row = conn.execute(query, ([f"%{token}%" for token in tokens],)).fetchone()
            if row and row[0]:
                hits[table] = int(row[0])
    return hits


def bound(store: Store) -> Store:
    store.bind_embedder("test", DIMENSION)
    return store


# -- erase_scope, on both stores -------------------------------------------------------------


def test_erase_scope_leaves_no_erased_text_in_any_table(store_factory: StoreFactory) -> None:
    store = bound(store_factory())
    erased, kept = fill_scope(store, ERASED, "qzv"), fill_scope(store, KEPT, "wyk")
    assert set(table_hits(store, erased)) >= {"memories", "memory_versions", "history", "episodes", "entities"}

    store.erase_scope(ERASED)

    assert table_hits(store, erased) == {}
    assert set(table_hits(store, kept)) >= {"memories", "memory_versions", "history", "episodes", "entities"}


def test_erase_scope_keeps_other_scopes_searchable(store_factory: StoreFactory) -> None:
    store = bound(store_factory())
    fill_scope(store, ERASED, "qzv")
    fill_scope(store, KEPT, "wyk")
    store.erase_scope(ERASED)
    assert [memory_id for memory_id, _ in store.keyword_search(Query(KEPT), "cat", 5)]
    assert store.keyword_search(Query(ERASED), "cat", 5) == []
    assert store.list_memories(Query(ERASED), 10) == []
    assert len(store.list_memories(Query(KEPT), 10)) == 2


def test_erase_scope_returns_and_records_a_receipt_with_counts_per_table(store_factory: StoreFactory) -> None:
    store = bound(store_factory())
    fill_scope(store, ERASED, "qzv")
    fill_scope(store, KEPT, "wyk")

    receipt = store.erase_scope(ERASED, at=T0 + timedelta(days=90))

    assert receipt.erased == {
        "memories": 2,
        "memory_versions": 1,
        "episodes": 2,
        "history": 3,  # the rows written before; the DELETE tombstones the erasure adds carry no owner
        "entities": 2,
        "relations": 1,
        "memory_entities": 2,
    }
    assert receipt.scope_kind == "user_id" and receipt.scope_digest == scope_digest(ERASED)
    assert receipt.to_dict()["at"].startswith("2024-07-30")
    assert store.list_erasures(ERASED) == [receipt]
    assert store.list_erasures(KEPT) == []
    assert table_hits(store, [str(ERASED.user_id)]) == {}  # the receipt names a digest, not the person


def test_an_erased_memorys_history_ends_with_a_delete_tombstone_without_text_or_owner(
    store_factory: StoreFactory,
) -> None:
    store = bound(store_factory())
    fill_scope(store, ERASED, "qzv")
    [first, _] = store.list_memories(Query(ERASED), 10)
    store.erase_scope(ERASED)
    history = store.history(first.id)
    assert [row.event for row in history][-1] == Event.DELETE and history[-1].is_deleted
    assert {(row.old_memory, row.new_memory, row.user_id, row.actor_id) for row in history} == {(None,) * 4}


def test_erasure_receipts_outlive_a_reset(store_factory: StoreFactory) -> None:
    store = bound(store_factory())
    fill_scope(store, ERASED, "qzv")
    receipt = store.erase_scope(ERASED)
    store.reset()
    assert store.list_erasures() == [receipt]


def test_erase_refuses_a_scope_without_an_owner_id(store_factory: StoreFactory) -> None:
    store = bound(store_factory())
    with pytest.raises(StorageError, match="user_id, agent_id or run_id"):
        store.erase_scope(Scope(actor_id="alice"))


def test_erasing_a_big_scope_takes_several_batches_and_counts_them_all(store_factory: StoreFactory) -> None:
    store = bound(store_factory())
    with store.transaction():
        for i in range(1_005):
            store.insert_memory(record(f"fact {i}", ERASED, T0), vector(i), f"fact {i}")
    assert store.erase_scope(ERASED).erased["memories"] == 1_005
    assert store.count_memories(Query(ERASED)) == 0


# -- the graph when one memory is deleted --------------------------------------------------------


def test_a_relation_goes_with_its_last_memory_and_an_entity_with_its_last_mention(store_factory: StoreFactory) -> None:
    store = bound(store_factory())
    one, two = record("Alice lives in Lisbon", ERASED, T0), record("Alice moved to Lisbon", ERASED, T0)
    alice, lisbon, cat = (Entity(str(uuid.uuid4()), n, n.lower(), ERASED, T0) for n in ("Alice", "Lisbon", "Tom"))
    lives = Relation(str(uuid.uuid4()), alice.id, "lives_in", lisbon.id, ERASED, T0, T0, memory_ids=(one.id, two.id))
    with store.transaction():
        store.insert_memory(one, vector(1), one.memory)
        store.insert_memory(two, vector(2), two.memory)
        store.graph.save_entities([(alice, None), (lisbon, None), (cat, None)])
        store.graph.link_memories([(one.id, alice.id), (one.id, cat.id), (two.id, alice.id), (two.id, lisbon.id)])
        store.graph.insert_relations([lives])

    with store.transaction():
        store.delete_memory(one.id)
        store.graph.forget_memory(one.id)
    assert [r.memory_ids for r in store.graph.list_relations(ERASED, as_of=None, limit=10)] == [(two.id,)]
    assert {e.name for e in store.graph.find_entities(ERASED, ["alice", "lisbon", "tom"])} == {"Alice", "Lisbon"}

    with store.transaction():
        store.delete_memory(two.id)
        store.graph.forget_memory(two.id)
    assert store.graph.list_relations(ERASED, as_of=None, limit=10) == []
    assert store.graph.find_entities(ERASED, ["alice", "lisbon", "tom"]) == []


# -- the bytes of the SQLite file --------------------------------------------------------------


def test_erase_scope_leaves_no_erased_text_in_the_sqlite_files(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    store = bound(SQLiteStore(path))
    erased, kept = fill_scope(store, ERASED, "qzv"), fill_scope(store, KEPT, "wyk")
    assert in_files(path, erased) == set(erased)

    store.erase_scope(ERASED)

    assert in_files(path, erased) == set()
    assert in_files(path, kept) == set(kept)  # the other scope's text is all still there
    store.close()


def test_delete_and_delete_all_leave_no_deleted_text_in_the_sqlite_files(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    config = {"vector_store": {"provider": "sqlite", "config": {"path": str(path)}}}
    with Memory(config, embedder=HashingEmbedder()) as memory:
        one = memory.add("I live in Porto qzvold7", user_id="alice", infer=False, timestamp=T0)["results"][0]["id"]
        memory.update(one, "I live in Lisbon qzvnew7", timestamp=T0 + timedelta(days=1))
        said = {"role": "user", "content": "My cat is Tom qzvcat7", "name": "qzvname7"}  # the name becomes the actor
        memory.add([said], user_id="alice", infer=False)
        memory.add("I play chess wykkept7", user_id="bob", infer=False)
        everything = ["qzvold7", "qzvnew7", "qzvcat7", "qzvname7"]
        assert in_files(path, everything) == set(everything)

        memory.delete(one)
        assert in_files(path, ["qzvold7", "qzvnew7", "qzvcat7"]) == {"qzvcat7"}

        memory.delete_all(user_id="alice")
        assert in_files(path, ["qzvcat7", "qzvname7", "wykkept7"]) == {"wykkept7"}


def test_opening_an_older_file_takes_the_text_off_deleted_memories_history(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    SQLiteStore(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(
        "INSERT INTO history (id, memory_id, old_memory, new_memory, event, created_at, is_deleted) "
        "VALUES ('h1', 'gone', 'qzvgone7 was said', NULL, 'DELETE', '2024-05-01T00:00:00+00:00', 1)"
    )
    db.execute("DROP TABLE erasures")
    for table in ("memories", "memory_versions"):  # added by a later migration
        db.execute(f"ALTER TABLE {table} DROP COLUMN sources")
    db.execute("PRAGMA user_version = 6")  # as written by the release before erasure
    db.close()

    store = SQLiteStore(path)

    assert [(row.event, row.old_memory) for row in store.history("gone")] == [(Event.DELETE, None)]
    assert in_files(path, ["qzvgone7"]) == set()
    store.close()


def test_a_reader_holding_the_wal_makes_an_erasure_say_its_text_is_still_in_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "engram.db"
    store = bound(SQLiteStore(path, busy_timeout_ms=50))
    fill_scope(store, ERASED, "qzv")
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM memories").fetchone()  # holds a snapshot of the WAL

    receipt = store.erase_scope(ERASED)

    assert receipt.warnings and "-wal" in receipt.warnings[0]
    reader.execute("COMMIT")
    reader.close()
    fill_scope(store, KEPT, "wyk")
    assert store.erase_scope(KEPT).warnings == ()
    assert in_files(path, ["qzvold7"]) == set()
    store.close()


def test_keyword_indexes_stay_readable_after_thousands_of_deletes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each delete scrubs the keyword indexes with FTS5's 'optimize', which (before SQLite 3.42) adds a
    level to an index's structure; past 2,000 levels FTS5 refuses to open the index and every search,
    add and delete of the store failed. A deep index is rebuilt instead (the bound is lowered here so
    that a hundred deletes cross it)."""
    monkeypatch.setattr(sqlite_store, "MAX_KEYWORD_LEVELS", 8)
    m = Memory(
        {"vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}}}, embedder=HashingEmbedder()
    )
    kept: list[str] = []
    for i in range(100):
        first, second = (
            m.add(f"fact {i} about {kind}", user_id="ana", infer=False)["results"][0]["id"] for kind in "ab"
        )
        m.update(second, f"fact {i} about b, changed", timestamp="2026-01-01")
        m.delete(first)
        kept.append(second)
    db = sqlite3.connect(tmp_path / "m.db")
    for table in sqlite_store.KEYWORD_INDEXES:
        assert sqlite_store.keyword_index_levels(db, table) <= 8 + 2
        db.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
    found = {hit["id"] for hit in m.search("fact 42 about b changed", user_id="ana", limit=3)["results"]}
    assert kept[42] in found
    assert not any("about a" in hit["memory"] for hit in m.search("about a", user_id="ana", limit=100)["results"])
