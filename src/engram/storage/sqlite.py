"""The embedded store: one SQLite file holds everything.

- ``memories``: text, metadata (JSON), scope ids, times and the vector (float32 BLOB);
- ``memory_fts``: an FTS5 index of each memory's text and date, keyed by the memory's rowid;
- ``memory_versions`` (with ``memory_version_fts``): the earlier texts of memories that a later
  conversation superseded, each with its own vector, keyword entry and validity; read only by
  as-of queries, so the current path never looks at them;
- ``history``: every change; a deleted memory's rows stay as tombstones (event and time, no text);
- ``episodes``: every message given to ``add`` (``episode_fts``: their keyword index), and
  ``memory_episodes``: which memory came from which;
- ``engram_meta``: which embedder filled the vectors;
- ``entities``, ``relations``, ``memory_entities``: the graph (storage/graph_sqlite.py);
- ``erasures``: the receipt of each erased scope (``erase_scope``), kept after the data is gone.

Deleting is erasing: the connection deletes securely (freed bytes are overwritten with zeros), a
transaction that deleted keyword entries rewrites those FTS5 indexes before it commits (FTS5 keeps a
deleted row's words in its segments until a merge), and once it commits the WAL is checkpointed and
truncated, so a deleted text is in neither the database file nor its WAL.

A retracted memory stays in ``memories`` with ``invalid_at`` set: current reads skip it (the
vector cache holds only current rows), as-of reads and ``get`` still see it.

Vector search is exact: the scope's vectors are read and scored with numpy,
which is both faster and more correct than an ANN index at the size of one
user's memories. WAL mode lets other processes read while one writes.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from engram.errors import StorageError
from engram.models import Episode, Erasure, HistoryRecord, MemoryRecord, Scope, iso, scope_digest, scope_kind, utcnow
from engram.storage.base import (
    AS_OF_TIES,
    EPISODE_COLUMNS,
    ERASE_BATCH,
    ERASURE_COLUMNS,
    HISTORY_COLUMNS,
    MEMORY_COLUMNS,
    SCOPE_KINDS,
    SCOPE_TIME_INDEX,
    SOURCES_BACKFILL,
    TOMBSTONE,
    TOMBSTONE_OWNER,
    VERSION_COLUMNS,
    ExportedMemory,
    Page,
    Query,
    ScopeCount,
    StoredMessage,
    Vector,
    check_same_embedder,
    episode_from_row,
    episode_text,
    episode_values,
    erase_owner,
    erasure_from_row,
    erasure_tombstones,
    erasure_values,
    history_batches,
    history_from_row,
    history_values,
    iter_chunks,
    placeholders,
    query_words,
    record_from_row,
    record_values,
    stored_history,
    window_episode_values,
)
from engram.storage.clauses import read_clause, scope_clause
from engram.storage.graph_rows import GRAPH_TABLES
from engram.storage.graph_sqlite import SQLiteGraph, add_graph_tables
from engram.storage.sqlite_db import BUSY_TIMEOUT_MS, SQLiteDatabase, Synchronous
from engram.storage.sqlite_sql import SQLITE, fts_query, owner_tokens
from engram.storage.vector_cache import CachedRow, VectorCache

logger = logging.getLogger("engram.storage")

# -- migrations: named, ordered, each run once inside a transaction ------------


def _run_statements(db: sqlite3.Connection, script: str) -> None:
    """Run each statement of a script inside the open transaction (executescript would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _create_tables(db: sqlite3.Connection) -> None:
    _run_statements(
        db,
        """
        CREATE TABLE memories (
            pk INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            memory TEXT NOT NULL,
            hash TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            user_id TEXT, agent_id TEXT, run_id TEXT, actor_id TEXT, role TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT,
            expiration_date TEXT,
            embedding BLOB NOT NULL
        );
        CREATE INDEX memories_user ON memories (user_id, expiration_date);
        CREATE INDEX memories_agent ON memories (agent_id, expiration_date);
        CREATE INDEX memories_run ON memories (run_id, expiration_date);
        CREATE INDEX memories_hash ON memories (hash);
        CREATE VIRTUAL TABLE memory_fts USING fts5 (
            text, owners, tokenize = 'porter unicode61 remove_diacritics 2'
        );
        CREATE TABLE history (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            memory_id TEXT NOT NULL,
            old_memory TEXT,
            new_memory TEXT,
            event TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT,
            is_deleted INTEGER NOT NULL DEFAULT 0,
            actor_id TEXT,
            role TEXT
        );
        CREATE INDEX history_memory ON history (memory_id, seq);
        CREATE TABLE messages (
            pk INTEGER PRIMARY KEY,
            owner TEXT NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            name TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX messages_owner ON messages (owner, pk);
        CREATE TABLE engram_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """,
    )


_VERSIONS_AND_EPISODES = """
ALTER TABLE memories ADD COLUMN valid_from TEXT;
ALTER TABLE memories ADD COLUMN invalid_at TEXT;
UPDATE memories SET valid_from = created_at;
CREATE TABLE memory_versions (
    pk INTEGER PRIMARY KEY,
    memory_id TEXT NOT NULL,
    memory TEXT NOT NULL,
    hash TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    user_id TEXT, agent_id TEXT, run_id TEXT, actor_id TEXT, role TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    expiration_date TEXT,
    valid_from TEXT NOT NULL,
    invalid_at TEXT NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX memory_versions_memory ON memory_versions (memory_id, valid_from);
CREATE INDEX memory_versions_user ON memory_versions (user_id);
CREATE INDEX memory_versions_agent ON memory_versions (agent_id);
CREATE INDEX memory_versions_run ON memory_versions (run_id);
CREATE VIRTUAL TABLE memory_version_fts USING fts5 (
    text, owners, tokenize = 'porter unicode61 remove_diacritics 2'
);
ALTER TABLE history ADD COLUMN user_id TEXT;
ALTER TABLE history ADD COLUMN agent_id TEXT;
ALTER TABLE history ADD COLUMN run_id TEXT;
UPDATE history SET
    user_id = (SELECT m.user_id FROM memories m WHERE m.id = history.memory_id),
    agent_id = (SELECT m.agent_id FROM memories m WHERE m.id = history.memory_id),
    run_id = (SELECT m.run_id FROM memories m WHERE m.id = history.memory_id);
CREATE TABLE episodes (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    name TEXT,
    user_id TEXT, agent_id TEXT, run_id TEXT, actor_id TEXT
);
CREATE INDEX episodes_owner ON episodes (owner, pk);
CREATE INDEX episodes_user ON episodes (user_id, created_at);
CREATE INDEX episodes_agent ON episodes (agent_id, created_at);
CREATE INDEX episodes_run ON episodes (run_id, created_at);
CREATE TABLE memory_episodes (
    memory_id TEXT NOT NULL,
    episode_id TEXT NOT NULL,
    PRIMARY KEY (memory_id, episode_id)
) WITHOUT ROWID;
CREATE INDEX memory_episodes_episode ON memory_episodes (episode_id)
"""
"""The schema of ``_add_versions_and_episodes``: versions, history's scope ids, episodes."""


def _add_versions_and_episodes(db: sqlite3.Connection) -> None:
    """Validity on memories, earlier versions, scope ids on history, and durable episodes (which take
    over the recent-message window: its messages become the scope's newest episodes)."""
    _run_statements(
        db,
        _VERSIONS_AND_EPISODES,
    )
    window = db.execute("SELECT owner, role, content, name, created_at FROM messages ORDER BY pk").fetchall()
    db.executemany(
        f"INSERT INTO episodes (owner, {EPISODE_COLUMNS}) VALUES (?, {placeholders(EPISODE_COLUMNS, '?')})",
        [window_episode_values(position, *message) for position, message in enumerate(window)],
    )
    db.execute("DROP TABLE messages")


def _add_scope_time_indexes(db: sqlite3.Connection) -> None:
    """Per scope column, an index by time that also holds what current reads filter on: a scope's
    newest memories (get_all, the dashboard's table) are read in index order instead of sorting the
    scope, and counts and the other sort keys of a page are answered from the index alone
    (``SCOPE_TIME_INDEX``)."""
    for column in ("user_id", "agent_id", "run_id"):
        db.execute(f"CREATE INDEX IF NOT EXISTS memories_{column}_created ON memories ({column}, {SCOPE_TIME_INDEX})")


def _add_episode_index(db: sqlite3.Connection) -> None:
    """A keyword index of the episodes, so that search can reach what was said when extraction kept
    too little of it (``episode_search``); existing episodes are indexed."""
    db.execute(
        "CREATE VIRTUAL TABLE episode_fts USING fts5 (text, owners, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    rows = db.execute("SELECT pk, name, content, user_id, agent_id, run_id FROM episodes").fetchall()
    db.executemany(
        "INSERT INTO episode_fts (rowid, text, owners) VALUES (?, ?, ?)",
        [(pk, episode_text(name, content), owner_tokens(Scope(u, a, r))) for pk, name, content, u, a, r in rows],
    )


def _add_subject_and_attribute(db: sqlite3.Connection) -> None:
    """What each extracted fact is about (``MemoryRecord.subject`` / ``attribute``), on memories and versions."""
    for table in ("memories", "memory_versions"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN subject TEXT")
        db.execute(f"ALTER TABLE {table} ADD COLUMN attribute TEXT")


KEYWORD_INDEXES = ("memory_fts", "memory_version_fts", "episode_fts")


def _add_erasures(db: sqlite3.Connection) -> None:
    """Erasure receipts, and deletion as erasure for what is already stored: the history of memories
    deleted before keeps no text, and the keyword indexes are rewritten without their words."""
    _run_statements(
        db,
        """
        CREATE TABLE erasures (
            pk INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            at TEXT NOT NULL,
            scope_kind TEXT NOT NULL,
            scope_digest TEXT NOT NULL,
            erased TEXT NOT NULL
        );
        CREATE INDEX erasures_digest ON erasures (scope_digest, at);
        UPDATE history SET old_memory = NULL, new_memory = NULL, actor_id = NULL
            WHERE is_deleted = 1 OR memory_id NOT IN (SELECT id FROM memories)
        """,
    )
    for table in KEYWORD_INDEXES:
        scrub_keyword_index(db, table)


# FTS5 before SQLite 3.42 adds a level to an index's structure at each 'optimize' that finds segments on
# several levels (two per delete in a busy store), and refuses to open an index of more than 2,000
# levels ("vtable constructor failed"): a store was unreadable after about a thousand deletes. An index
# past MAX_KEYWORD_LEVELS is rebuilt from its rows instead, which leaves it one level deep.
MAX_KEYWORD_LEVELS = 64
FTS5_STRUCTURE_ROWID = 10


def keyword_index_levels(db: sqlite3.Connection, table: str) -> int:
    """The number of levels in an FTS5 index's structure record (a varint after a 4-byte cookie)."""
    row = db.execute(f"SELECT block FROM {table}_data WHERE id = ?", (FTS5_STRUCTURE_ROWID,)).fetchone()
    levels = 0
    for byte in bytes(row[0])[4:13] if row else b"":
        levels = (levels << 7) | (byte & 0x7F)
        if byte < 0x80:
            break
    return levels


def scrub_keyword_index(db: sqlite3.Connection, table: str) -> None:
    """Merge an FTS5 index into one segment, so that deleted rows' words leave it (FTS5 otherwise keeps
    them, marked deleted, in older segments); rebuild it instead when its structure has grown deep."""
    command = "rebuild" if keyword_index_levels(db, table) >= MAX_KEYWORD_LEVELS else "optimize"
    db.execute(f"INSERT INTO {table} ({table}) VALUES ('{command}')")


def _add_sources(db: sqlite3.Connection) -> None:
    """Who said what each memory came from (``MemoryRecord.sources``), on memories and versions; memories
    stored before are given the sources of their messages (``SOURCES_BACKFILL``)."""
    for table in ("memories", "memory_versions"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN sources TEXT")
    db.execute(SOURCES_BACKFILL)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _create_tables,
    _add_versions_and_episodes,
    _add_scope_time_indexes,
    add_graph_tables,
    _add_episode_index,
    _add_subject_and_attribute,
    _add_erasures,
    _add_sources,
]
"""Append new migrations; never edit or reorder shipped ones."""


class SQLiteStore:
    """A Store over one SQLite file (or ``":memory:"``)."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        synchronous: Synchronous = "normal",
    ) -> None:
        self._database = SQLiteDatabase(path, busy_timeout_ms=busy_timeout_ms, synchronous=synchronous)
        self.path = self._database.path
        self._db = self._database.connection
        self._lock = self._database.guard  # reads hold it; it also turns SQLite errors into StorageError
        self._vectors = VectorCache()
        self._pending: list[CachedRow] = []  # vector writes of the open transaction
        self._rewrite: set[str] = set()  # keyword indexes the open transaction deleted entries from
        self._erased = False  # whether the open transaction erased anything (the WAL is truncated after it)
        self._unflushed: str | None = None  # why the last checkpoint left erased text in the WAL
        self._migrate()
        self.graph = SQLiteGraph(self)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def database(self) -> SQLiteDatabase:
        """The store's connection with its lock and transactions: the graph's tables (graph_sqlite.py)
        are written on it, inside the same transactions as the memories."""
        return self._database

    @property
    def location(self) -> str:
        return self.path

    def _migrate(self) -> None:
        with self._lock:
            before = self._db.execute("PRAGMA user_version").fetchone()[0]
        self._database.migrate(MIGRATIONS)
        if before < len(MIGRATIONS):  # a migration may have erased text (``_add_erasures``)
            self._erased = True
            self._flush_erased()

    def bind_embedder(self, model_name: str, dimension: int) -> None:
        with self.transaction():
            rows = dict(self._db.execute("SELECT key, value FROM engram_meta").fetchall())
            if "embedding_dimension" not in rows:
                self._db.executemany(
                    "INSERT INTO engram_meta (key, value) VALUES (?, ?)",
                    [("embedding_model", model_name), ("embedding_dimension", str(dimension))],
                )
                return
        check_same_embedder(rows, model_name, dimension, where=self.path, remedy="use a new database path")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction; nested calls become savepoints of the outer one. The vector cache
        takes the transaction's vector writes once it commits."""
        with self._database.lock:
            pending_mark = len(self._pending)
            outermost = self._database.depth == 0
            try:
                with self._database.transaction():
                    yield
                    if outermost:
                        self._rewrite_keyword_indexes()
            except BaseException:
                del self._pending[pending_mark:]
                if outermost:
                    self._rewrite, self._erased = set(), False
                raise
            if outermost:
                writes, self._pending = self._pending, []
                self._vectors.apply(writes)
                self._flush_erased()

    def mark_erasing(self, *keyword_indexes: str) -> None:
        """The open transaction erases text (from these keyword indexes too): scrub it when it commits."""
        self._erased = True
        self._rewrite.update(keyword_indexes)

    def _rewrite_keyword_indexes(self) -> None:
        """Scrub each FTS5 index the transaction deleted from (``scrub_keyword_index``). Costs a pass over
        the index (90 ms at 100k memories)."""
        for table in sorted(self._rewrite):
            scrub_keyword_index(self._db, table)
        self._rewrite = set()

    def _flush_erased(self) -> None:
        """After a commit that erased: copy the WAL into the file and truncate it, so that the old pages
        (which still hold the text) leave the WAL; secure deletion has zeroed them in the file."""
        if not self._erased or self.path == ":memory:":
            self._erased = False
            return
        self._erased = False
        try:
            with self._lock:
                busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except StorageError as exc:  # the erasure is committed: report, do not fail it
            busy, reason = 1, f"the WAL checkpoint failed ({exc})"
        else:
            reason = "another connection was reading, so the WAL could not be truncated"
        self._unflushed = f"{reason}: erased text stays in {self.path}-wal until the next checkpoint" if busy else None
        if self._unflushed:
            logger.warning("%s", self._unflushed)

    def close(self) -> None:
        self._database.close()

    def reset(self) -> None:
        with self.transaction():
            for table in (
                "memories",
                "memory_fts",
                "memory_versions",
                "memory_version_fts",
                "history",
                "episodes",
                "episode_fts",
                "memory_episodes",
                "engram_meta",
                *GRAPH_TABLES,
            ):  # erasure receipts stay: they outlive the data by design
                self._db.execute(f"DELETE FROM {table}")
            self.mark_erasing(*KEYWORD_INDEXES)
        self._vectors.invalidate()

    # -- writes --------------------------------------------------------------------

    def insert_memory(self, record: MemoryRecord, vector: Vector, index_text: str) -> None:
        with self.transaction():
            cursor = self._db.execute(
                f"INSERT INTO memories ({MEMORY_COLUMNS}, embedding) VALUES ({placeholders(MEMORY_COLUMNS, '?')}, ?)",
                (*_record_values(record), _blob(vector)),
            )
            self._db.execute(
                "INSERT INTO memory_fts (rowid, text, owners) VALUES (?, ?, ?)",
                (cursor.lastrowid, index_text, owner_tokens(record.scope)),
            )
            if record.invalid_at is None:
                self._pending.append(
                    CachedRow(int(cursor.lastrowid or 0), _as_vector(vector), record.scope, record.expiration_date)
                )

    def update_memory(self, record: MemoryRecord, vector: Vector | None, index_text: str | None) -> None:
        with self.transaction():
            row = self._db.execute("SELECT pk, embedding FROM memories WHERE id = ?", (record.id,)).fetchone()
            if row is None:
                raise StorageError(f"memory {record.id} vanished during the update")
            pk = int(row[0])
            self._db.execute(
                "UPDATE memories SET memory = ?, hash = ?, metadata = ?, updated_at = ?, valid_from = ?, "
                "invalid_at = ?, sources = ?, embedding = coalesce(?, embedding) WHERE pk = ?",
                (
                    record.memory,
                    record.hash,
                    json.dumps(record.metadata, ensure_ascii=False),
                    iso(record.updated_at) if record.updated_at else None,
                    iso(record.valid_from or record.created_at),
                    iso(record.invalid_at) if record.invalid_at else None,
                    ",".join(record.sources) or None,
                    _blob(vector) if vector is not None else None,
                    pk,
                ),
            )
            if index_text is not None:  # None: the text is unchanged and so is its keyword entry
                self._db.execute("DELETE FROM memory_fts WHERE rowid = ?", (pk,))
                self._db.execute(
                    "INSERT INTO memory_fts (rowid, text, owners) VALUES (?, ?, ?)",
                    (pk, index_text, owner_tokens(record.scope)),
                )
            if record.invalid_at is not None:
                self._pending.append(CachedRow(pk, None))
            else:  # the cache may not hold the row (it was retracted): give it the vector either way
                vector_now = _as_vector(vector) if vector is not None else np.frombuffer(row[1], dtype=np.float32)
                self._pending.append(CachedRow(pk, vector_now, record.scope, record.expiration_date))

    def archive_memory(self, memory_id: str, until: datetime) -> None:
        with self.transaction():
            row = self._db.execute(
                f"SELECT m.pk, {_columns('m', MEMORY_COLUMNS)}, m.embedding, f.text FROM memories m "
                "LEFT JOIN memory_fts f ON f.rowid = m.pk WHERE m.id = ?",
                (memory_id,),
            ).fetchone()
            if row is None:
                raise StorageError(f"memory {memory_id} vanished during the update")
            record = _record(row[1:-2])
            record.invalid_at = until
            self._insert_version(record, row[-2], row[-1] or record.memory)

    def insert_version(self, record: MemoryRecord, vector: Vector, index_text: str) -> None:
        with self.transaction():
            self._insert_version(record, _blob(vector), index_text)

    def _insert_version(self, record: MemoryRecord, embedding: bytes, index_text: str) -> None:
        if record.invalid_at is None:
            raise StorageError(f"a version of memory {record.id} needs the time it stopped being valid")
        cursor = self._db.execute(
            f"INSERT INTO memory_versions ({VERSION_COLUMNS}, embedding) "
            f"VALUES ({placeholders(VERSION_COLUMNS, '?')}, ?)",
            (*_record_values(record), embedding),
        )
        self._db.execute(
            "INSERT INTO memory_version_fts (rowid, text, owners) VALUES (?, ?, ?)",
            (cursor.lastrowid, index_text, owner_tokens(record.scope)),
        )

    def retract_memory(self, memory_id: str, at: datetime) -> None:
        with self.transaction():
            row = self._db.execute("SELECT pk FROM memories WHERE id = ?", (memory_id,)).fetchone()
            if row is None:
                raise StorageError(f"memory {memory_id} vanished during the update")
            self._db.execute(
                "UPDATE memories SET invalid_at = ?, updated_at = ? WHERE pk = ?", (iso(at), iso(at), row[0])
            )
            self._pending.append(CachedRow(int(row[0]), None))

    def delete_memory(self, memory_id: str) -> None:
        with self.transaction():
            self._delete_versions("memory_id = ?", [memory_id])
            # Its episodes that produced no other memory go too: delete is how a user erases.
            orphans = (
                "SELECT e.pk FROM episodes e JOIN memory_episodes l ON l.episode_id = e.id WHERE l.memory_id = ? "
                "AND NOT EXISTS (SELECT 1 FROM memory_episodes o WHERE o.episode_id = e.id AND o.memory_id != ?)"
            )
            pks = [row[0] for row in self._db.execute(orphans, (memory_id, memory_id)).fetchall()]
            self._delete_episodes(pks)
            self._db.execute("DELETE FROM memory_episodes WHERE memory_id = ?", (memory_id,))
            self._tombstone_history("memory_id = ?", [memory_id])
            row = self._db.execute("SELECT pk FROM memories WHERE id = ?", (memory_id,)).fetchone()
            if row is None:
                return
            self._db.execute("DELETE FROM memory_fts WHERE rowid = ?", row)
            self._db.execute("DELETE FROM memories WHERE pk = ?", row)
            self._pending.append(CachedRow(row[0], None))
            self.mark_erasing("memory_fts")

    def _delete_rows(self, pks: list[int], ids: list[str]) -> int:
        """Delete these memories (by pk and id, aligned), with their keyword entries, versions and links;
        their history becomes tombstones. Returns how many versions went. The keyword indexes are left
        for the caller to mark for rewriting (a batch of a big deletion leaves it to the last one)."""
        versions = 0
        for pk_chunk, id_chunk in zip(iter_chunks(pks, 500), iter_chunks(ids, 500), strict=True):
            marks = ", ".join("?" * len(pk_chunk))
            self._db.execute(f"DELETE FROM memory_fts WHERE rowid IN ({marks})", pk_chunk)
            self._db.execute(f"DELETE FROM memory_episodes WHERE memory_id IN ({marks})", id_chunk)
            versions += self._delete_versions(f"memory_id IN ({marks})", list(id_chunk))
            self._tombstone_history(f"memory_id IN ({marks})", list(id_chunk))
            self._db.execute(f"DELETE FROM memories WHERE pk IN ({marks})", pk_chunk)
        self._pending.extend(CachedRow(pk, None) for pk in pks)
        return versions

    def _delete_versions(self, where: str, params: list[Any]) -> int:
        self._db.execute(
            f"DELETE FROM memory_version_fts WHERE rowid IN (SELECT pk FROM memory_versions WHERE {where})", params
        )
        deleted = int(self._db.execute(f"DELETE FROM memory_versions WHERE {where}", params).rowcount)
        if deleted:
            self.mark_erasing("memory_version_fts")
        return deleted

    def _tombstone_history(self, where: str, params: list[Any], *, forget_owner: bool = False) -> int:
        """Take the text (and with ``forget_owner`` the scope ids) off these history rows."""
        owner = f", {TOMBSTONE_OWNER}" if forget_owner else ""
        self.mark_erasing()
        return int(self._db.execute(f"UPDATE history SET {TOMBSTONE}{owner} WHERE {where}", params).rowcount)

    def delete_memories(self, scope: Scope, limit: int | None = None) -> list[MemoryRecord]:
        where, params = scope_clause(SQLITE, scope, "memories")
        with self.transaction():
            rows = self._db.execute(
                f"SELECT pk, {MEMORY_COLUMNS} FROM memories WHERE {where} LIMIT ?",
                (*params, -1 if limit is None else limit),
            ).fetchall()
            self._delete_rows([row[0] for row in rows], [row[1] for row in rows])
            if limit is None or len(rows) < limit:  # the last batch: the scope's episodes and versions too
                self._delete_versions(scope_clause(SQLITE, scope, "memory_versions")[0], params)
                episodes_where = scope_clause(SQLITE, scope, "episodes")[0]
                pks = [row[0] for row in self._db.execute(f"SELECT pk FROM episodes WHERE {episodes_where}", params)]
                self._delete_episodes(pks)
                self.mark_erasing(*KEYWORD_INDEXES)
        return [_record(row[1:]) for row in rows]

    def _delete_episodes(self, pks: list[int]) -> None:
        """Delete these episodes (by pk) with their keyword entries and links."""
        for chunk in iter_chunks(pks, 500):
            marks = ", ".join("?" * len(chunk))
            self._db.execute(
                f"DELETE FROM memory_episodes WHERE episode_id IN (SELECT id FROM episodes WHERE pk IN ({marks}))",
                chunk,
            )
            self._db.execute(f"DELETE FROM episode_fts WHERE rowid IN ({marks})", chunk)
            self._db.execute(f"DELETE FROM episodes WHERE pk IN ({marks})", chunk)
        if pks:
            self.mark_erasing("episode_fts")

    def erase_scope(self, scope: Scope, *, at: datetime | None = None) -> Erasure:
        owner = erase_owner(scope)
        moment = at or utcnow()
        erased: Counter[str] = Counter()
        while True:  # in batches, each its own transaction, as delete_all: a big scope must not hold the lock
            with self.transaction():
                batch = self._erase_memories(owner, moment, erased)
            if batch < ERASE_BATCH:
                break
        with self.transaction():
            # Memories added since the last batch go too, before their episodes and history would
            # (an add committed in between kept its memory and lost its history and episodes).
            while self._erase_memories(owner, moment, erased) == ERASE_BATCH:
                pass
            self._erase_rest(owner, erased)
            receipt = Erasure(
                str(uuid.uuid4()), moment, scope_kind(owner), scope_digest(owner), dict(sorted(erased.items()))
            )
            self._db.execute(
                f"INSERT INTO erasures ({ERASURE_COLUMNS}) VALUES ({placeholders(ERASURE_COLUMNS, '?')})",
                erasure_values(receipt, iso),
            )
        return receipt if self._unflushed is None else replace(receipt, warnings=(self._unflushed,))

    def _erase_memories(self, owner: Scope, at: datetime, erased: Counter[str]) -> int:
        """One batch of the scope's memories: erased, each history ending with a DELETE tombstone."""
        where, params = scope_clause(SQLITE, owner, "memories")
        rows = self._db.execute(
            f"SELECT pk, id, role FROM memories WHERE {where} LIMIT ?", (*params, ERASE_BATCH)
        ).fetchall()
        erased["memory_versions"] += self._delete_rows([row[0] for row in rows], [row[1] for row in rows])
        erased["memories"] += len(rows)
        self.add_history(erasure_tombstones([(row[1], row[2]) for row in rows], at))
        return len(rows)

    def _erase_rest(self, owner: Scope, erased: Counter[str]) -> None:
        """What the scope holds besides its memories: versions left, episodes, history, the graph."""
        erased["memory_versions"] += self._delete_versions(*scope_clause(SQLITE, owner, "memory_versions"))
        where, params = scope_clause(SQLITE, owner, "episodes")
        pks = [row[0] for row in self._db.execute(f"SELECT pk FROM episodes WHERE {where}", params)]
        self._delete_episodes(pks)
        erased["episodes"] += len(pks)
        erased["history"] += self._tombstone_history(*scope_clause(SQLITE, owner, "history"), forget_owner=True)
        erased.update(self.graph.delete_graph(owner))
        self.mark_erasing(*KEYWORD_INDEXES)

    def list_erasures(self, scope: Scope | None = None, limit: int = 100) -> list[Erasure]:
        where, params = ("scope_digest = ?", [scope_digest(erase_owner(scope))]) if scope is not None else ("1", [])
        with self._lock:
            rows = self._db.execute(
                f"SELECT {ERASURE_COLUMNS} FROM erasures WHERE {where} ORDER BY at DESC, pk DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [erasure_from_row(row, datetime.fromisoformat) for row in rows]

    def add_history(self, rows: Sequence[HistoryRecord]) -> None:
        with self.transaction():
            self._db.executemany(
                f"INSERT INTO history ({HISTORY_COLUMNS}) VALUES ({placeholders(HISTORY_COLUMNS, '?')})",
                [history_values(r, iso) for r in stored_history(rows)],
            )

    def add_episodes(self, episodes: Sequence[Episode]) -> None:
        with self.transaction():
            for episode in episodes:
                self._insert_episode(episode)

    def _insert_episode(self, episode: Episode, *, or_ignore: bool = False) -> None:
        cursor = self._db.execute(
            f"INSERT {'OR IGNORE ' if or_ignore else ''}INTO episodes (owner, {EPISODE_COLUMNS}) "
            f"VALUES (?, {placeholders(EPISODE_COLUMNS, '?')})",
            (episode.scope.owner_key(), *episode_values(episode, iso)),
        )
        if cursor.rowcount:
            self._db.execute(
                "INSERT INTO episode_fts (rowid, text, owners) VALUES (?, ?, ?)",
                (cursor.lastrowid, episode_text(episode.name, episode.content), owner_tokens(episode.scope)),
            )

    def link_episodes(self, links: Sequence[tuple[str, str]]) -> None:
        with self.transaction():
            self._db.executemany("INSERT OR IGNORE INTO memory_episodes (memory_id, episode_id) VALUES (?, ?)", links)

    # -- reads ---------------------------------------------------------------------

    def get_memory(self, memory_id: str, *, lock: bool = False) -> MemoryRecord | None:
        # ``lock`` needs nothing here: a write transaction (BEGIN IMMEDIATE) already excludes other writers.
        with self._lock:
            row = self._db.execute(f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ?", (memory_id,)).fetchone()
        return _record(row) if row else None

    def list_memories(self, query: Query, limit: int) -> list[MemoryRecord]:
        where, params = read_clause(SQLITE, query, "memories")
        if query.as_of is None:
            sql = f"SELECT {MEMORY_COLUMNS} FROM memories WHERE {where} ORDER BY created_at DESC, pk DESC LIMIT ?"
        else:
            version_where, version_params = read_clause(SQLITE, query, "memory_versions")
            sql = (
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE {where} UNION ALL "
                f"SELECT {VERSION_COLUMNS} FROM memory_versions WHERE {version_where} "
                "ORDER BY created_at DESC, valid_from DESC LIMIT ?"
            )
            params += version_params
        with self._lock:
            rows = self._db.execute(sql, (*params, limit)).fetchall()
        return [_record(row) for row in rows]

    def count_memories(self, query: Query) -> int:
        tables = ["memories"] if query.as_of is None else ["memories", "memory_versions"]
        total = 0
        with self._lock:
            for table in tables:
                where, params = read_clause(SQLITE, query, table)
                total += int(self._db.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0])
        return total

    def find_by_hash(self, scope: Scope, hashes: Sequence[str]) -> dict[str, MemoryRecord]:
        """Current memories only: a fact restated after it was retracted or superseded is new again."""
        if not hashes:
            return {}
        where, params = scope_clause(SQLITE, scope, "memories")
        marks = ", ".join("?" * len(hashes))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE {where} AND invalid_at IS NULL AND hash IN ({marks})",
                (*params, *hashes),
            ).fetchall()
        return {record.hash: record for record in map(_record, rows)}

    def get_memories(
        self, memory_ids: Sequence[str], as_of: datetime | None = None, *, lock: bool = False
    ) -> dict[str, MemoryRecord]:
        found: dict[str, MemoryRecord] = {}
        sources = [("id", MEMORY_COLUMNS, "memories")]
        validity, validity_params = "", []
        if as_of is not None:
            sources.append(("memory_id", VERSION_COLUMNS, "memory_versions"))
            validity, validity_params = (
                " AND valid_from <= ? AND (invalid_at IS NULL OR invalid_at > ?)",
                [
                    iso(as_of),
                    iso(as_of),
                ],
            )
        with self._lock:
            for key, columns, table in sources:
                for chunk in iter_chunks(list(memory_ids), 500):
                    marks = ", ".join("?" * len(chunk))
                    for row in self._db.execute(
                        f"SELECT {columns} FROM {table} WHERE {key} IN ({marks}){validity}",
                        (*chunk, *validity_params),
                    ):
                        found.setdefault(row[0], _record(row))
        return found

    def list_versions(self, memory_id: str) -> list[MemoryRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {VERSION_COLUMNS} FROM memory_versions WHERE memory_id = ? ORDER BY valid_from, pk",
                (memory_id,),
            ).fetchall()
        return [_record(row) for row in rows]

    def vector_search(self, query: Query, vector: Vector, limit: int) -> list[tuple[str, float]]:
        if query.as_of is not None:
            return self._vector_search_as_of(query, vector, limit)
        with self._lock:
            matrix = self._vectors.matrix(self._db)
            if query.filters is None:
                rowids = self._vectors.scope_rows(query.scope, query.now)
            else:  # filters need SQL; the scope indexes keep this to the scope's rows
                where, params = read_clause(SQLITE, query, "memories")
                rows = self._db.execute(f"SELECT pk FROM memories WHERE {where}", params).fetchall()
                rowids = np.array(rows, dtype=np.int64).reshape(-1)
            if len(rowids) == 0 or limit <= 0:
                return []
            query_vector = np.asarray(vector, dtype=np.float32)
            if len(rowids) * 4 > len(matrix):  # most rows: one pass over the whole matrix is cheaper
                scores = (matrix @ query_vector)[rowids]
            else:
                scores = matrix[rowids] @ query_vector
            top = [(int(rowids[i]), float(scores[i])) for i in _top_indices(scores, limit)]
            marks = ", ".join("?" * len(top))
            ids = dict(self._db.execute(f"SELECT pk, id FROM memories WHERE pk IN ({marks})", [pk for pk, _ in top]))
        # Another process may delete a memory between the two reads: it is gone, not an error.
        return [(ids[pk], score) for pk, score in top if pk in ids]

    def _vector_search_as_of(self, query: Query, vector: Vector, limit: int) -> list[tuple[str, float]]:
        """Exact search over the scope's versions valid at ``query.as_of`` (read from SQL, not the cache,
        which holds only current rows)."""
        if limit <= 0:
            return []
        where, params = read_clause(SQLITE, query, "memories")
        version_where, version_params = read_clause(SQLITE, query, "memory_versions")
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, embedding FROM memories WHERE {where} UNION ALL "
                f"SELECT memory_id, embedding FROM memory_versions WHERE {version_where}",
                (*params, *version_params),
            ).fetchall()
        if not rows:
            return []
        matrix = np.vstack([np.frombuffer(blob, dtype=np.float32) for _, blob in rows])
        scores = matrix @ np.asarray(vector, dtype=np.float32)
        return [(rows[i][0], float(scores[i])) for i in _top_indices(scores, limit)]

    def keyword_search(self, query: Query, text: str, limit: int) -> list[tuple[str, float]]:
        words = fts_query(text)
        if words is None or limit <= 0:
            return []
        # Matching the scope inside FTS keeps the search within the scope's few rows
        # instead of every row of every user that shares a word with the query.
        if query.as_of is not None:
            return self._keyword_search_as_of(query, text, limit)
        match = f"owners : ({owner_tokens(query.scope, ' AND ')}) AND text : ({words})"
        where, params = read_clause(SQLITE, query, "m")
        with self._lock:
            hits = self._db.execute(
                "SELECT m.id, -bm25(memory_fts, 1.0, 0.0) AS score FROM memory_fts "
                "JOIN memories m ON m.pk = memory_fts.rowid WHERE memory_fts MATCH ? AND "
                f"{where} ORDER BY score DESC LIMIT ?",
                (match, *params, limit),
            ).fetchall()
        return [(memory_id, float(score)) for memory_id, score in hits]

    def _keyword_search_as_of(self, query: Query, text: str, limit: int) -> list[tuple[str, float]]:
        """Keyword scores over the memories and versions valid at ``as_of``, as one collection: each
        query word counts its inverse document frequency among those rows. (Two FTS indexes would
        score with two sets of statistics, and a version, scored among a handful of versions, would
        rank below any current memory.)"""
        owners = owner_tokens(query.scope, " AND ")
        sources = [("memory_fts", "memories", "id"), ("memory_version_fts", "memory_versions", "memory_id")]
        matched: dict[str, set[str]] = {}  # query word -> the valid rows holding it
        total = 0
        with self._lock:
            for fts, table, key in sources:
                where, params = read_clause(SQLITE, query, "m")
                total += int(self._db.execute(f"SELECT count(*) FROM {table} m WHERE {where}", params).fetchone()[0])
                for word in query_words(text):
                    rows = self._db.execute(
                        f"SELECT m.{key} FROM {fts} JOIN {table} m ON m.pk = {fts}.rowid "
                        f"WHERE {fts} MATCH ? AND {where}",
                        (f'owners : ({owners}) AND text : ("{word.replace(chr(34), chr(34) * 2)}")', *params),
                    ).fetchall()
                    matched.setdefault(word, set()).update(row[0] for row in rows)
        scores: dict[str, float] = {}
        for ids in matched.values():
            weight = math.log((total - len(ids) + 0.5) / (len(ids) + 0.5) + 1.0)
            for memory_id in ids:
                scores[memory_id] = scores.get(memory_id, 0.0) + weight
        return sorted(scores.items(), key=lambda hit: (-hit[1], hit[0]))[:limit]

    def history(self, memory_id: str) -> list[HistoryRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {HISTORY_COLUMNS} FROM history WHERE memory_id = ? ORDER BY seq",
                (memory_id,),
            ).fetchall()
        return [history_from_row(r, datetime.fromisoformat) for r in rows]

    def deleted_history(self, scope: Scope | None, batch: int = 1000) -> Iterator[list[HistoryRecord]]:
        where, params = scope_clause(SQLITE, scope.owner_only(), "h") if scope is not None else ("1", [])
        with self._lock:
            rows = self._db.execute(
                f"SELECT {HISTORY_COLUMNS} FROM history h WHERE {where} "
                "AND NOT EXISTS (SELECT 1 FROM memories m WHERE m.id = h.memory_id) ORDER BY h.seq",
                params,
            ).fetchall()
        yield from history_batches([history_from_row(r, datetime.fromisoformat) for r in rows], batch)

    def recent_messages(self, scope: Scope, limit: int) -> list[StoredMessage]:
        with self._lock:
            rows = self._db.execute(
                "SELECT role, content, name, created_at FROM episodes WHERE owner = ? AND role != 'system' "
                "ORDER BY pk DESC LIMIT ?",
                (scope.owner_key(), limit),
            ).fetchall()
        return [StoredMessage(r[0], r[1], r[2], datetime.fromisoformat(r[3])) for r in reversed(rows)]

    def list_episodes(self, scope: Scope, *, before: datetime | None = None, limit: int = 100) -> list[Episode]:
        where, params = scope_clause(SQLITE, scope, "episodes")
        if before is not None:
            where += " AND created_at < ?"
            params.append(iso(before))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {EPISODE_COLUMNS} FROM episodes WHERE {where} "
                "ORDER BY created_at DESC, position DESC, pk DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [episode_from_row(r, datetime.fromisoformat) for r in reversed(rows)]

    def memory_episodes(self, memory_id: str) -> list[Episode]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_columns('e', EPISODE_COLUMNS)} FROM memory_episodes l "
                "JOIN episodes e ON e.id = l.episode_id WHERE l.memory_id = ? "
                "ORDER BY e.created_at, e.position, e.pk",
                (memory_id,),
            ).fetchall()
        return [episode_from_row(r, datetime.fromisoformat) for r in rows]

    def episode_memories(self, episode_ids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        with self._lock:
            for chunk in iter_chunks(list(episode_ids), 500):
                marks = ", ".join("?" * len(chunk))
                for episode_id, memory_id in self._db.execute(
                    f"SELECT episode_id, memory_id FROM memory_episodes WHERE episode_id IN ({marks}) "
                    "ORDER BY episode_id, memory_id",
                    tuple(chunk),
                ):
                    found.setdefault(episode_id, []).append(memory_id)
        return found

    def episode_search(self, query: Query, text: str, limit: int) -> list[tuple[Episode, float]]:
        words = fts_query(text)
        if words is None or limit <= 0:
            return []
        match = f"owners : ({owner_tokens(query.scope, ' AND ')}) AND text : ({words})"
        where, params = scope_clause(SQLITE, query.scope, "e")
        if query.as_of is None:
            said, retracted = "1", "m.invalid_at IS NOT NULL"
        else:
            said, retracted = "e.created_at <= ?", "m.invalid_at <= ?"
            params += [iso(query.as_of), iso(query.as_of)]
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_columns('e', EPISODE_COLUMNS)}, -bm25(episode_fts, 1.0, 0.0) AS score FROM episode_fts "
                f"JOIN episodes e ON e.pk = episode_fts.rowid WHERE episode_fts MATCH ? AND {where} "
                f"AND e.role != 'system' AND {said} AND NOT EXISTS (SELECT 1 FROM memory_episodes l "
                f"JOIN memories m ON m.id = l.memory_id WHERE l.episode_id = e.id AND {retracted}) "
                "ORDER BY score DESC, e.pk LIMIT ?",
                (match, *params, limit),
            ).fetchall()
        return [(episode_from_row(row[:-1], datetime.fromisoformat), float(row[-1])) for row in rows]

    # -- browsing (the dashboard) --------------------------------------------------------

    def list_scopes(self, now: datetime | None) -> list[ScopeCount]:
        live = "expiration_date IS NULL OR expiration_date > ?" if now is not None else "1"
        parts = [
            f"SELECT '{kind}', {kind}, count(*) FROM memories "
            f"WHERE {kind} IS NOT NULL AND invalid_at IS NULL AND ({live}) GROUP BY {kind}"
            for kind in SCOPE_KINDS
        ]
        params = [iso(now)] * len(SCOPE_KINDS) if now is not None else []
        with self._lock:
            rows = self._db.execute(" UNION ALL ".join(parts) + " ORDER BY 1, 2", params).fetchall()
        return [ScopeCount(kind, scope_id, int(count)) for kind, scope_id, count in rows]

    def page_memories(self, query: Query, page: Page) -> list[MemoryRecord]:
        where, params = read_clause(SQLITE, query, "memories")
        order = page.order_sql()
        if query.as_of is None:
            # Rank the page's rows by key first (from the index when the key is in it), then read only them.
            sql = (
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE pk IN "
                f"(SELECT pk FROM memories WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?) ORDER BY {order}"
            )
        else:  # the memories and earlier versions valid then, as list_memories reads them
            version_where, version_params = read_clause(SQLITE, query, "memory_versions")
            sql = (
                f"SELECT * FROM (SELECT {MEMORY_COLUMNS} FROM memories WHERE {where} UNION ALL "
                f"SELECT {VERSION_COLUMNS} FROM memory_versions WHERE {version_where}) "
                f"ORDER BY {page.order_sql(ties=AS_OF_TIES)} LIMIT ? OFFSET ?"
            )
            params += version_params
        with self._lock:
            rows = self._db.execute(sql, (*params, page.limit, page.offset)).fetchall()
        return [_record(row) for row in rows]

    # -- lifecycle and portability: prune, stats, export and import -------------------------

    def delete_expired(self, now: datetime) -> list[MemoryRecord]:
        """Delete every memory whose expiration_date has passed (with its versions); return them."""
        with self.transaction():
            rows = self._db.execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE expiration_date <= ?", (iso(now),)
            ).fetchall()
            for row in rows:
                self.delete_memory(row[0])
        return [_record(row) for row in rows]

    def delete_outdated(self, cutoff: datetime) -> dict[str, int]:
        """Delete what stopped being true before ``cutoff`` (versions, retracted memories) and history
        rows written before it; return how many of each."""
        moment = iso(cutoff)
        with self.transaction():
            versions = self._db.execute(
                "SELECT count(*) FROM memory_versions WHERE invalid_at < ?", (moment,)
            ).fetchone()[0]
            self._delete_versions("invalid_at < ?", [moment])
            retracted = [r[0] for r in self._db.execute("SELECT id FROM memories WHERE invalid_at < ?", (moment,))]
            for memory_id in retracted:
                self.delete_memory(memory_id)
            history = self._db.execute(
                "DELETE FROM history WHERE coalesce(updated_at, created_at) < ?", (moment,)
            ).rowcount
            self.mark_erasing()
        return {"versions": int(versions), "retracted_memories": len(retracted), "history_rows": history}

    def counts(self, scope: Scope | None, now: datetime) -> dict[str, int]:
        """Memories of a scope or of the whole store: current, expired and retracted; the whole
        store's versions, history rows and episodes too."""
        where, params = scope_clause(SQLITE, scope, "memories") if scope is not None else ("1", [])
        with self._lock:
            total, expired, retracted = self._db.execute(
                "SELECT count(*), coalesce(sum(invalid_at IS NULL AND expiration_date <= ?), 0), "
                f"coalesce(sum(invalid_at IS NOT NULL), 0) FROM memories WHERE {where}",
                (iso(now), *params),
            ).fetchone()
            result = {
                "memories": int(total) - int(expired) - int(retracted),
                "expired": int(expired),
                "retracted": int(retracted),
            }
            if scope is None:
                for table in ("memory_versions", "history", "episodes"):
                    name = table.removeprefix("memory_")
                    result[name] = int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        return result

    def export_memories(self, scope: Scope | None, batch: int = 1000) -> Iterator[list[ExportedMemory]]:
        """Every memory of a scope (or of the store), retracted ones too, in the order they were
        stored, in batches, with its vector, keyword text, history, earlier versions and episodes."""
        where, params = scope_clause(SQLITE, scope, "m") if scope is not None else ("1", [])
        last = 0  # pages by rowid: the order memories were stored in, read through the primary key
        width = len(MEMORY_COLUMNS.split(","))
        while True:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {_columns('m', MEMORY_COLUMNS)}, m.embedding, f.text, m.pk FROM memories m "
                    f"LEFT JOIN memory_fts f ON f.rowid = m.pk WHERE {where} AND m.pk > ? ORDER BY m.pk LIMIT ?",
                    (*params, last, batch),
                ).fetchall()
                if not rows:
                    return
                ids = [row[0] for row in rows]
                history, versions, episodes = self._history_of(ids), self._versions_of(ids), self._episodes_of(ids)
            last = rows[-1][-1]
            yield [
                ExportedMemory(
                    _record(row[:width]),
                    np.frombuffer(row[width], dtype=np.float32),
                    row[width + 1] or row[1],
                    history.get(row[0], []),
                    versions.get(row[0], []),
                    episodes.get(row[0], []),
                )
                for row in rows
            ]

    def _known_ids(self, memory_ids: Sequence[str]) -> set[str]:
        """Which of these ids the store holds, current or retracted."""
        known: set[str] = set()
        for chunk in iter_chunks(list(memory_ids), 500):
            marks = ", ".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT id FROM memories WHERE id IN ({marks})", tuple(chunk))
            known.update(row[0] for row in rows)
        return known

    def _history_of(self, memory_ids: Sequence[str]) -> dict[str, list[HistoryRecord]]:
        found: dict[str, list[HistoryRecord]] = {}
        for chunk in iter_chunks(list(memory_ids), 500):
            marks = ", ".join("?" * len(chunk))
            for row in self._db.execute(
                f"SELECT {HISTORY_COLUMNS} FROM history WHERE memory_id IN ({marks}) ORDER BY seq", tuple(chunk)
            ):
                found.setdefault(row[1], []).append(history_from_row(row, datetime.fromisoformat))
        return found

    def _versions_of(self, memory_ids: Sequence[str]) -> dict[str, list[ExportedMemory]]:
        found: dict[str, list[ExportedMemory]] = {}
        width = len(VERSION_COLUMNS.split(","))
        for chunk in iter_chunks(list(memory_ids), 500):
            marks = ", ".join("?" * len(chunk))
            for row in self._db.execute(
                f"SELECT {_columns('v', VERSION_COLUMNS)}, v.embedding, f.text FROM memory_versions v "
                f"LEFT JOIN memory_version_fts f ON f.rowid = v.pk WHERE v.memory_id IN ({marks}) "
                "ORDER BY v.valid_from, v.pk",
                tuple(chunk),
            ):
                vector = np.frombuffer(row[width], dtype=np.float32)
                version = ExportedMemory(_record(row[:width]), vector, row[width + 1] or row[1], [])
                found.setdefault(row[0], []).append(version)
        return found

    def _episodes_of(self, memory_ids: Sequence[str]) -> dict[str, list[Episode]]:
        found: dict[str, list[Episode]] = {}
        for chunk in iter_chunks(list(memory_ids), 500):
            marks = ", ".join("?" * len(chunk))
            for row in self._db.execute(
                f"SELECT l.memory_id, {_columns('e', EPISODE_COLUMNS)} FROM memory_episodes l "
                f"JOIN episodes e ON e.id = l.episode_id WHERE l.memory_id IN ({marks}) "
                "ORDER BY e.created_at, e.position, e.pk",
                tuple(chunk),
            ):
                found.setdefault(row[0], []).append(episode_from_row(row[1:], datetime.fromisoformat))
        return found

    def import_memories(self, memories: Sequence[ExportedMemory]) -> int:
        """Insert memories exactly as exported (ids, times, validity, keyword text, history, versions,
        episodes); memories, history rows and episodes whose id the store already holds are left as
        they are. Returns how many memories were new."""
        with self.transaction():
            known = self._known_ids([m.record.id for m in memories])
            fresh = [m for m in memories if m.record.id not in known]
            # In bulk: rows first, then their rowids for the keyword index and the vector cache.
            self._db.executemany(
                f"INSERT INTO memories ({MEMORY_COLUMNS}, embedding) VALUES ({placeholders(MEMORY_COLUMNS, '?')}, ?)",
                [(*_record_values(m.record), _blob(m.vector)) for m in fresh],
            )
            rowids: dict[str, int] = {}
            for chunk in iter_chunks([m.record.id for m in fresh], 500):
                marks = ", ".join("?" * len(chunk))
                rowids.update(self._db.execute(f"SELECT id, pk FROM memories WHERE id IN ({marks})", tuple(chunk)))
            self._db.executemany(
                "INSERT INTO memory_fts (rowid, text, owners) VALUES (?, ?, ?)",
                [(rowids[m.record.id], m.keyword_text, owner_tokens(m.record.scope)) for m in fresh],
            )
            self._pending.extend(
                CachedRow(rowids[m.record.id], _as_vector(m.vector), m.record.scope, m.record.expiration_date)
                for m in fresh
                if m.record.invalid_at is None
            )
            for memory in fresh:
                for version in memory.versions:
                    self._insert_version(version.record, _blob(version.vector), version.keyword_text)
            self._db.executemany(
                f"INSERT OR IGNORE INTO history ({HISTORY_COLUMNS}) VALUES ({placeholders(HISTORY_COLUMNS, '?')})",
                [history_values(row, iso) for memory in memories for row in stored_history(memory.history)],
            )
            for episode in {e.id: e for memory in memories for e in memory.episodes}.values():
                self._insert_episode(episode, or_ignore=True)
            self.link_episodes([(m.record.id, e.id) for m in memories for e in m.episodes])
        return len(fresh)


# -- rows ------------------------------------------------------------------------------


def _as_vector(vector: Vector) -> Vector:
    return np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)


def _blob(vector: Vector) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def _record_values(record: MemoryRecord) -> tuple[Any, ...]:
    return record_values(record, iso)


def _record(row: Sequence[Any]) -> MemoryRecord:
    return record_from_row(row, datetime.fromisoformat)


def _columns(table: str, columns: str) -> str:
    """``columns`` qualified with ``table``, for a join."""
    return ", ".join(f"{table}.{column.strip()}" for column in columns.split(","))


def _top_indices(scores: np.ndarray, limit: int) -> list[int]:
    if limit >= len(scores):
        return [int(i) for i in np.argsort(-scores)]
    top = np.argpartition(-scores, limit)[:limit]
    return [int(i) for i in top[np.argsort(-scores[top])]]


# -- SQL for scopes and filters ------------------------------------------------------------
