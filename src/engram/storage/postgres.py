"""The scale-out store: PostgreSQL with pgvector, shared by many engram processes.

The schema mirrors the SQLite store, with PostgreSQL's own tools:

- ``memories``: text, metadata (``json``, kept as written; filters compare it as ``jsonb``), scope
  ids, times (``timestamptz``), the vector (``vector(dim)`` with an HNSW index, cosine) and the
  indexed text with its ``tsvector`` (a generated column with a GIN index) for the keyword side;
- ``memory_versions``: superseded texts with their own vector and ``tsvector`` (no HNSW index: only
  as-of reads, which scan one scope exactly, consult it);
- ``history``, ``episodes``, ``memory_episodes`` and ``engram_meta`` as in SQLite (a deleted
  memory's history rows stay as tombstones, without text);
- ``entities``, ``relations`` and ``memory_entities``: the graph (storage/graph_postgres.py);
- ``erasures``: the receipt of each erased scope (``erase_scope``), kept after the data is gone;
- ``engram_schema_version``: the migrations applied, one row each.

Vector search is exact when the scope is small (the usual case: one user's
memories, found through the btree indexes on the scope columns) and uses the
HNSW index with ``hnsw.iterative_scan`` when the scope holds more than
``exact_search_max`` memories (an agent shared by every user, say).

Connections come from a psycopg 3 pool. A transaction pins one connection to
the thread that opened it, and every read or write of that thread goes through
it until the transaction ends, so a verb reads its own writes and commits them
as one. ``AsyncMemory`` runs each verb in one worker thread, so this holds there too.
Writes for one owner (user, agent, run) take turns inside their transactions (an advisory
lock), so many processes can add to one database without losing or duplicating memories.
"""

from __future__ import annotations

import json
import struct
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from engram.errors import ConfigError, StorageError
from engram.models import Episode, Erasure, HistoryRecord, MemoryRecord, Scope, scope_digest, scope_kind, utcnow
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
    episode_values,
    erase_owner,
    erasure_from_row,
    erasure_tombstones,
    erasure_values,
    history_batches,
    history_from_row,
    history_values,
    placeholders,
    record_from_row,
    record_values,
    stored_history,
    window_episode_values,
)
from engram.storage.clauses import read_clause, scope_clause
from engram.storage.graph_postgres import PostgresGraph, add_graph_tables
from engram.storage.graph_rows import GRAPH_TABLES
from engram.storage.postgres_db import IDENTIFIER, migrate, open_pool, postgres_errors, redacted_url
from engram.storage.postgres_sql import POSTGRES, ts_query

# isort: split
# (postgres_db, imported first, says which extra to install when psycopg is missing)
import psycopg
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.conninfo import make_conninfo
from psycopg.pq import Format

DEFAULT_SCHEMA = "public"
TEXT_SEARCH_CONFIG = "english"  # stemming like SQLite's porter tokenizer
DEFAULT_HNSW_M = 16
DEFAULT_HNSW_EF_CONSTRUCTION = 64
# Measured with bench/bench_postgres.py at 100k memories (2 shared cores): ef_search 200 found 0.92
# of the exact top 10 in 2.0 ms, 100 found 0.84 in 1.4 ms; an exact scan of a 5k scope took 5 ms and
# of 20k 56 ms, where HNSW answered in 1.7-2.9 ms with recall 0.94-0.97 (README, "Measured").
DEFAULT_EF_SEARCH = 200
DEFAULT_EXACT_SEARCH_MAX = 10_000  # scopes up to this size are searched exactly
DEFAULT_POOL_MIN = 1
DEFAULT_POOL_MAX = 10
DEFAULT_POOL_TIMEOUT_S = 30.0
MIGRATION_LOCK_KEY = 0x656E6772616D  # "engram": one process migrates a database at a time

# How SQLite (and the API) writes a time; `contains` on a time column matches against this text.


# -- migrations: named, ordered, each applied once inside the migration transaction ------


def _create_tables(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        f"""
        CREATE TABLE memories (
            pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text NOT NULL UNIQUE,
            memory text NOT NULL,
            hash text NOT NULL,
            metadata jsonb NOT NULL DEFAULT '{{}}',
            user_id text, agent_id text, run_id text, actor_id text, role text,
            created_at timestamptz NOT NULL,
            updated_at timestamptz,
            expiration_date timestamptz,
            embedding vector NOT NULL,
            search_text text NOT NULL,
            fts tsvector GENERATED ALWAYS AS (to_tsvector('{TEXT_SEARCH_CONFIG}', search_text)) STORED
        );
        CREATE INDEX memories_user ON memories (user_id, hash);
        CREATE INDEX memories_agent ON memories (agent_id);
        CREATE INDEX memories_run ON memories (run_id);
        CREATE INDEX memories_fts ON memories USING gin (fts);
        CREATE TABLE history (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text NOT NULL UNIQUE,
            memory_id text NOT NULL,
            old_memory text,
            new_memory text,
            event text NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz,
            is_deleted boolean NOT NULL DEFAULT false,
            actor_id text,
            role text
        );
        CREATE INDEX history_memory ON history (memory_id, seq);
        CREATE TABLE messages (
            pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            owner text NOT NULL,
            role text NOT NULL,
            content text NOT NULL,
            name text,
            created_at timestamptz NOT NULL
        );
        CREATE INDEX messages_owner ON messages (owner, pk);
        CREATE TABLE engram_meta (key text PRIMARY KEY, value text NOT NULL);
        """
    )


_VERSIONS_AND_EPISODES = f"""
ALTER TABLE memories ADD COLUMN valid_from timestamptz, ADD COLUMN invalid_at timestamptz;
UPDATE memories SET valid_from = created_at;
ALTER TABLE memories ALTER COLUMN valid_from SET NOT NULL;
CREATE TABLE memory_versions (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    memory_id text NOT NULL,
    memory text NOT NULL,
    hash text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{{}}',
    user_id text, agent_id text, run_id text, actor_id text, role text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz,
    expiration_date timestamptz,
    valid_from timestamptz NOT NULL,
    invalid_at timestamptz NOT NULL,
    embedding vector NOT NULL,
    search_text text NOT NULL,
    fts tsvector GENERATED ALWAYS AS (to_tsvector('{TEXT_SEARCH_CONFIG}', search_text)) STORED
);
CREATE INDEX memory_versions_memory ON memory_versions (memory_id, valid_from);
CREATE INDEX memory_versions_user ON memory_versions (user_id);
CREATE INDEX memory_versions_agent ON memory_versions (agent_id);
CREATE INDEX memory_versions_run ON memory_versions (run_id);
CREATE INDEX memory_versions_fts ON memory_versions USING gin (fts);
ALTER TABLE history ADD COLUMN user_id text, ADD COLUMN agent_id text, ADD COLUMN run_id text;
UPDATE history h SET user_id = m.user_id, agent_id = m.agent_id, run_id = m.run_id
    FROM memories m WHERE m.id = h.memory_id;
CREATE TABLE episodes (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL UNIQUE,
    owner text NOT NULL,
    role text NOT NULL,
    content text NOT NULL,
    created_at timestamptz NOT NULL,
    position integer NOT NULL DEFAULT 0,
    name text,
    user_id text, agent_id text, run_id text, actor_id text
);
CREATE INDEX episodes_owner ON episodes (owner, pk);
CREATE INDEX episodes_user ON episodes (user_id, created_at);
CREATE INDEX episodes_agent ON episodes (agent_id, created_at);
CREATE INDEX episodes_run ON episodes (run_id, created_at);
CREATE TABLE memory_episodes (
    memory_id text NOT NULL,
    episode_id text NOT NULL,
    PRIMARY KEY (memory_id, episode_id)
);
CREATE INDEX memory_episodes_episode ON memory_episodes (episode_id);
"""
"""The schema of ``_add_versions_and_episodes``: versions, history's scope ids, episodes."""


def _add_versions_and_episodes(conn: psycopg.Connection[Any]) -> None:
    """Validity on memories, earlier versions, scope ids on history, and durable episodes (which take
    over the recent-message window: its messages become the scope's newest episodes)."""
    conn.execute(_VERSIONS_AND_EPISODES)
    window = conn.execute("SELECT owner, role, content, name, created_at FROM messages ORDER BY pk").fetchall()
    rows = [window_episode_values(position, *message) for position, message in enumerate(window)]
    if rows:
        conn.cursor().executemany(
            f"INSERT INTO episodes (owner, {EPISODE_COLUMNS}) VALUES (%s, {placeholders(EPISODE_COLUMNS, '%s')})",
            rows,
        )
    conn.execute("DROP TABLE messages")


def _add_scope_time_indexes(conn: psycopg.Connection[Any]) -> None:
    """Per scope column, an index by time that also holds what current reads filter on, as on SQLite."""
    for column in ("user_id", "agent_id", "run_id"):
        conn.execute(f"CREATE INDEX IF NOT EXISTS memories_{column}_created ON memories ({column}, {SCOPE_TIME_INDEX})")


def _add_episode_index(conn: psycopg.Connection[Any]) -> None:
    """A keyword index of the episodes (``episode_text``: who said it and what), as on SQLite."""
    conn.execute(
        f"""
        ALTER TABLE episodes ADD COLUMN fts tsvector GENERATED ALWAYS AS
            (to_tsvector('{TEXT_SEARCH_CONFIG}', coalesce(name || ': ', '') || content)) STORED;
        CREATE INDEX episodes_fts ON episodes USING gin (fts)
        """
    )


def _add_subject_and_attribute(conn: psycopg.Connection[Any]) -> None:
    """What each extracted fact is about (``MemoryRecord.subject`` / ``attribute``), on memories and versions."""
    for table in ("memories", "memory_versions"):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN subject text, ADD COLUMN attribute text")


def _add_erasures(conn: psycopg.Connection[Any]) -> None:
    """Erasure receipts, and deletion as erasure for what is already stored: the history of memories
    deleted before keeps no text."""
    conn.execute(
        """
        CREATE TABLE erasures (
            pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text NOT NULL UNIQUE,
            at timestamptz NOT NULL,
            scope_kind text NOT NULL,
            scope_digest text NOT NULL,
            erased jsonb NOT NULL
        );
        CREATE INDEX erasures_digest ON erasures (scope_digest, at);
        UPDATE history h SET old_memory = NULL, new_memory = NULL, actor_id = NULL
            WHERE h.is_deleted OR NOT EXISTS (SELECT 1 FROM memories m WHERE m.id = h.memory_id);
        """
    )


def _keep_metadata_as_written(conn: psycopg.Connection[Any]) -> None:
    """Metadata as ``json``, the text as written, instead of ``jsonb``: jsonb stores numbers as numeric,
    so 1e16 came back as an integer and -0.0 as 0.0 (SQLite keeps the text). Filters cast to jsonb."""
    for table in ("memories", "memory_versions"):
        conn.execute(f"ALTER TABLE {table} ALTER COLUMN metadata DROP DEFAULT")
        conn.execute(f"ALTER TABLE {table} ALTER COLUMN metadata TYPE json USING metadata::json")
        conn.execute(f"ALTER TABLE {table} ALTER COLUMN metadata SET DEFAULT '{{}}'")


def _add_sources(conn: psycopg.Connection[Any]) -> None:
    """Who said what each memory came from (``MemoryRecord.sources``), on memories and versions; memories
    stored before are given the sources of their messages (``SOURCES_BACKFILL``)."""
    for table in ("memories", "memory_versions"):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN sources text")
    conn.execute(SOURCES_BACKFILL)


MIGRATIONS: list[Callable[[psycopg.Connection[Any]], None]] = [
    _create_tables,
    _add_versions_and_episodes,
    _add_scope_time_indexes,
    add_graph_tables,
    _add_episode_index,
    _add_subject_and_attribute,
    _add_erasures,
    _keep_metadata_as_written,
    _add_sources,
]
"""Append new migrations (the graph tables will be the next); never edit or reorder shipped ones."""


# -- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresSettings:
    """How the store uses the server; the defaults suit one user's memories per scope."""

    schema: str = DEFAULT_SCHEMA
    min_connections: int = DEFAULT_POOL_MIN
    max_connections: int = DEFAULT_POOL_MAX
    pool_timeout: float = DEFAULT_POOL_TIMEOUT_S
    hnsw_m: int = DEFAULT_HNSW_M
    hnsw_ef_construction: int = DEFAULT_HNSW_EF_CONSTRUCTION
    ef_search: int = DEFAULT_EF_SEARCH
    exact_search_max: int = DEFAULT_EXACT_SEARCH_MAX

    def __post_init__(self) -> None:
        for name in ("min_connections", "max_connections", "hnsw_m", "hnsw_ef_construction", "ef_search"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.min_connections > self.max_connections:
            raise ConfigError("min_connections must not exceed max_connections")
        if not isinstance(self.exact_search_max, int) or self.exact_search_max < 0:
            raise ConfigError(f"exact_search_max must be an integer >= 0, got {self.exact_search_max!r}")
        if not isinstance(self.pool_timeout, int | float) or self.pool_timeout <= 0:
            raise ConfigError(f"pool_timeout must be a positive number of seconds, got {self.pool_timeout!r}")


class _VectorArg:
    """A vector sent to the server in pgvector's binary format (no text round trip)."""

    __slots__ = ("values",)

    def __init__(self, vector: Vector) -> None:
        self.values = np.ascontiguousarray(vector, dtype=">f4")


def _vector_dumper(oid: int) -> type[Dumper]:
    class VectorDumper(Dumper):
        format = Format.BINARY

        def dump(self, obj: Any) -> bytes:
            values: np.ndarray = obj.values
            return struct.pack(">HH", values.shape[0], 0) + values.tobytes()

    VectorDumper.oid = oid
    return VectorDumper


class PostgresStore:
    """A Store over a PostgreSQL database with the pgvector extension."""

    def __init__(self, url: str, settings: PostgresSettings | None = None) -> None:
        self.settings = settings or PostgresSettings()
        if not IDENTIFIER.match(self.settings.schema):
            raise ConfigError(f"schema must be a plain SQL identifier, got {self.settings.schema!r}")
        self.url = url
        self._location = redacted_url(url)
        self._local = threading.local()
        with postgres_errors("connecting", location=self._location), psycopg.connect(url, autocommit=True) as conn:
            vector_schema = self._migrate(conn)
        self._search_path = sql.SQL("SET search_path TO {}, {}").format(
            sql.Identifier(self.settings.schema), sql.Identifier(vector_schema)
        )
        self._pool = open_pool(
            url,
            name=f"engram:{self._location}",
            min_size=self.settings.min_connections,
            max_size=self.settings.max_connections,
            timeout=self.settings.pool_timeout,
            configure=self._configure,
            location=self._location,
            # No server-side prepared statements: each query is planned for its own scope (one user's
            # 100 memories and an agent's million want different plans; a cached generic plan made
            # scoped keyword search 2x slower in bench_postgres.py).
            prepare_threshold=None,
        )
        self.graph = PostgresGraph(self)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def location(self) -> str:
        return self._location

    def _migrate(self, conn: psycopg.Connection[Any]) -> str:
        """Create or upgrade the schema; return the schema that holds pgvector."""
        [vector_schema] = migrate(
            conn,
            schema=self.settings.schema,
            migrations=MIGRATIONS,
            version_table="engram_schema_version",
            lock_key=MIGRATION_LOCK_KEY,
            writer="engram",
            where=self._location,
            before=_install_pgvector,
        )
        return vector_schema

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        """Prepare each new pooled connection: our schema, UTC, and the vector type."""
        conn.autocommit = True  # reads need no transaction; writes open one explicitly
        conn.execute(self._search_path)
        conn.execute("SET TIME ZONE 'UTC'")
        row = conn.execute("SELECT 'vector'::regtype::oid").fetchone()
        assert row is not None
        conn.adapters.register_dumper(_VectorArg, _vector_dumper(int(row[0])))

    def bind_embedder(self, model_name: str, dimension: int) -> None:
        with self.writing() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            rows = dict(conn.execute("SELECT key, value FROM engram_meta").fetchall())
            if "embedding_dimension" not in rows:
                self._set_dimension(conn, dimension)
                conn.cursor().executemany(
                    "INSERT INTO engram_meta (key, value) VALUES (%s, %s)",
                    [("embedding_model", model_name), ("embedding_dimension", str(dimension))],
                )
                return
        where = f"schema {self.settings.schema!r} at {self._location}"
        check_same_embedder(rows, model_name, dimension, where=where, remedy="use another schema")

    def _set_dimension(self, conn: psycopg.Connection[Any], dimension: int) -> None:
        """Give the vector column its dimension and build the HNSW index (first bind, or after reset)."""
        row = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'memories'::regclass AND attname = 'embedding'"
        ).fetchone()
        if row is not None and row[0] == f"vector({dimension})":
            return
        conn.execute("DROP INDEX IF EXISTS memories_embedding")
        conn.execute(
            sql.SQL("ALTER TABLE memories ALTER COLUMN embedding TYPE vector({})").format(sql.Literal(dimension))
        )
        conn.execute(
            sql.SQL(
                "CREATE INDEX memories_embedding ON memories USING hnsw (embedding vector_cosine_ops) "
                "WITH (m = {}, ef_construction = {})"
            ).format(sql.Literal(self.settings.hnsw_m), sql.Literal(self.settings.hnsw_ef_construction))
        )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction on one pooled connection; nested calls become savepoints."""
        current: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if current is not None:
            with _errors(self, "running a nested transaction"), current.transaction():
                yield
            return
        with _errors(self, "running a transaction"), self._pool.connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield
            finally:
                self._local.conn = None

    @contextmanager
    def writing(self) -> Iterator[psycopg.Connection[Any]]:
        """The thread's transaction connection, or a new transaction around a lone call.

        Unlike ``transaction()`` it adds no savepoint inside a running transaction: a single
        statement is atomic anyway, and savepoints cost two round trips per write.
        """
        current: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self.transaction():
            yield self._local.conn

    @contextmanager
    def reading(self) -> Iterator[psycopg.Connection[Any]]:
        """The thread's transaction connection, or a pooled one for a lone read."""
        current: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with _errors(self, "reading"), self._pool.connection() as conn:
            yield conn

    def close(self) -> None:
        self._pool.close()

    def reset(self) -> None:
        with self.writing() as conn:
            conn.execute(
                "TRUNCATE memories, memory_versions, history, episodes, memory_episodes, engram_meta, "
                + ", ".join(GRAPH_TABLES)
            )

    # -- writes ------------------------------------------------------------------------------

    def insert_memory(self, record: MemoryRecord, vector: Vector, index_text: str) -> None:
        with self.writing() as conn:
            conn.execute(
                f"INSERT INTO memories ({MEMORY_COLUMNS}, embedding, search_text) "
                f"VALUES ({placeholders(MEMORY_COLUMNS, '%s')}, %b, %s)",
                (*_record_values(record), _VectorArg(vector), index_text),
            )

    def insert_memories(self, rows: Sequence[tuple[MemoryRecord, Vector, str]]) -> None:
        """Insert many memories in one round trip per batch (bulk loads, imports)."""
        with self.writing() as conn:
            conn.cursor().executemany(
                f"INSERT INTO memories ({MEMORY_COLUMNS}, embedding, search_text) "
                f"VALUES ({placeholders(MEMORY_COLUMNS, '%s')}, %b, %s)",
                [(*_record_values(record), _VectorArg(vector), text) for record, vector, text in rows],
            )

    def update_memory(self, record: MemoryRecord, vector: Vector | None, index_text: str | None) -> None:
        with self.writing() as conn:
            cursor = conn.execute(
                "UPDATE memories SET memory = %s, hash = %s, metadata = %s, updated_at = %s, valid_from = %s, "
                "invalid_at = %s, sources = %s, embedding = coalesce(%b, embedding), "
                "search_text = coalesce(%s, search_text) WHERE id = %s",
                (
                    record.memory,
                    record.hash,
                    json.dumps(record.metadata, ensure_ascii=False),
                    record.updated_at,
                    record.valid_from or record.created_at,
                    record.invalid_at,
                    ",".join(record.sources) or None,
                    _VectorArg(vector) if vector is not None else None,
                    index_text,
                    record.id,
                ),
            )
            if cursor.rowcount == 0:
                raise StorageError(f"memory {record.id} vanished during the update")

    def archive_memory(self, memory_id: str, until: datetime) -> None:
        columns = MEMORY_COLUMNS.removeprefix("id, ").replace("invalid_at", "%s")
        with self.writing() as conn:
            cursor = conn.execute(
                f"INSERT INTO memory_versions ({VERSION_COLUMNS}, embedding, search_text) "
                f"SELECT id, {columns}, embedding, search_text FROM memories WHERE id = %s",
                (until, memory_id),
            )
            if cursor.rowcount == 0:
                raise StorageError(f"memory {memory_id} vanished during the update")

    def insert_version(self, record: MemoryRecord, vector: Vector, index_text: str) -> None:
        if record.invalid_at is None:
            raise StorageError(f"a version of memory {record.id} needs the time it stopped being valid")
        with self.writing() as conn:
            conn.execute(
                f"INSERT INTO memory_versions ({VERSION_COLUMNS}, embedding, search_text) "
                f"VALUES ({placeholders(VERSION_COLUMNS, '%s')}, %b, %s)",
                (*_record_values(record), _VectorArg(vector), index_text),
            )

    def retract_memory(self, memory_id: str, at: datetime) -> None:
        with self.writing() as conn:
            cursor = conn.execute(
                "UPDATE memories SET invalid_at = %s, updated_at = %s WHERE id = %s", (at, at, memory_id)
            )
            if cursor.rowcount == 0:
                raise StorageError(f"memory {memory_id} vanished during the update")

    def delete_memory(self, memory_id: str) -> None:
        with self.writing() as conn:
            conn.execute("DELETE FROM memory_versions WHERE memory_id = %s", (memory_id,))
            # Its episodes that produced no other memory go too: delete is how a user erases.
            conn.execute(
                "DELETE FROM episodes e USING memory_episodes l WHERE l.episode_id = e.id AND l.memory_id = %s "
                "AND NOT EXISTS (SELECT 1 FROM memory_episodes o WHERE o.episode_id = e.id AND o.memory_id <> %s)",
                (memory_id, memory_id),
            )
            conn.execute("DELETE FROM memory_episodes WHERE memory_id = %s", (memory_id,))
            _tombstone_history(conn, "memory_id = %s", [memory_id])
            conn.execute("DELETE FROM memories WHERE id = %s", (memory_id,))

    def delete_memories(self, scope: Scope, limit: int | None = None) -> list[MemoryRecord]:
        where, params = scope_clause(POSTGRES, scope)
        with self.writing() as conn:
            if limit is not None:
                found = conn.execute(f"SELECT id FROM memories WHERE {where} LIMIT %s", (*params, limit))
                ids = [row[0] for row in found.fetchall()]
                if len(ids) == limit:  # more may remain: these only, the scope's episodes stay for the last
                    rows = conn.execute(
                        f"DELETE FROM memories WHERE id = ANY(%s) RETURNING {MEMORY_COLUMNS}", (ids,)
                    ).fetchall()
                    conn.execute("DELETE FROM memory_versions WHERE memory_id = ANY(%s)", (ids,))
                    conn.execute("DELETE FROM memory_episodes WHERE memory_id = ANY(%s)", (ids,))
                    _tombstone_history(conn, "memory_id = ANY(%s)", [ids])
                    return [_record(row) for row in rows]
            rows = conn.execute(f"DELETE FROM memories WHERE {where} RETURNING {MEMORY_COLUMNS}", params).fetchall()
            conn.execute(f"DELETE FROM memory_versions WHERE {where}", params)
            deleted_ids = [row[0] for row in rows]
            conn.execute("DELETE FROM memory_episodes WHERE memory_id = ANY(%s)", (deleted_ids,))
            _tombstone_history(conn, "memory_id = ANY(%s)", [deleted_ids])
            # Read committed: an add that committed since the memories' DELETE keeps its episodes.
            episode_ids = [
                row[0]
                for row in conn.execute(
                    f"DELETE FROM episodes e WHERE {where} AND NOT {LINKED_TO_A_MEMORY} RETURNING id", params
                ).fetchall()
            ]
            conn.execute("DELETE FROM memory_episodes WHERE episode_id = ANY(%s)", (episode_ids,))
        return [_record(row) for row in rows]

    def erase_scope(self, scope: Scope, *, at: datetime | None = None) -> Erasure:
        owner = erase_owner(scope)
        moment = at or utcnow()
        erased: Counter[str] = Counter()
        while True:  # in batches, each its own transaction, as delete_all
            with self.writing() as conn:
                batch = self._erase_memories(conn, owner, moment, erased)
            if batch < ERASE_BATCH:
                break
        with self.writing() as conn:
            # Memories added since the last batch go too, before their episodes and history would
            # (an add committed in between kept its memory and lost its history and episodes).
            while self._erase_memories(conn, owner, moment, erased) == ERASE_BATCH:
                pass
            self._erase_rest(conn, owner, erased)
            receipt = Erasure(
                str(uuid.uuid4()), moment, scope_kind(owner), scope_digest(owner), dict(sorted(erased.items()))
            )
            conn.execute(
                f"INSERT INTO erasures ({ERASURE_COLUMNS}) VALUES ({placeholders(ERASURE_COLUMNS, '%s')})",
                erasure_values(receipt, lambda moment: moment),
            )
        return receipt

    def _erase_memories(self, conn: psycopg.Connection[Any], owner: Scope, at: datetime, erased: Counter[str]) -> int:
        """One batch of the scope's memories: erased, each history ending with a DELETE tombstone."""
        where, params = scope_clause(POSTGRES, owner)
        rows = conn.execute(
            f"DELETE FROM memories WHERE id IN (SELECT id FROM memories WHERE {where} LIMIT %s) RETURNING id, role",
            (*params, ERASE_BATCH),
        ).fetchall()
        ids = [row[0] for row in rows]
        erased["memories"] += len(rows)
        erased["memory_versions"] += conn.execute(
            "DELETE FROM memory_versions WHERE memory_id = ANY(%s)", (ids,)
        ).rowcount
        conn.execute("DELETE FROM memory_episodes WHERE memory_id = ANY(%s)", (ids,))
        _tombstone_history(conn, "memory_id = ANY(%s)", [ids])
        self.add_history(erasure_tombstones([(row[0], row[1]) for row in rows], at))
        return len(rows)

    def _erase_rest(self, conn: psycopg.Connection[Any], owner: Scope, erased: Counter[str]) -> None:
        """What the scope holds besides its memories: versions left, episodes, history, the graph."""
        where, params = scope_clause(POSTGRES, owner)
        erased["memory_versions"] += conn.execute(f"DELETE FROM memory_versions WHERE {where}", params).rowcount
        # Read committed: an add that commits between these statements is whole in the scope, so
        # what belongs to a memory still there (added after its erasure) is left with it.
        episodes = [
            row[0]
            for row in conn.execute(
                f"DELETE FROM episodes e WHERE {where} AND NOT {LINKED_TO_A_MEMORY} RETURNING id", params
            )
        ]
        conn.execute("DELETE FROM memory_episodes WHERE episode_id = ANY(%s)", (episodes,))
        erased["episodes"] += len(episodes)
        live = "EXISTS (SELECT 1 FROM memories m WHERE m.id = history.memory_id)"
        erased["history"] += _tombstone_history(conn, f"{where} AND NOT {live}", params, forget_owner=True)
        erased.update(self.graph.delete_graph(owner))

    def list_erasures(self, scope: Scope | None = None, limit: int = 100) -> list[Erasure]:
        where, params = ("scope_digest = %s", [scope_digest(erase_owner(scope))]) if scope is not None else ("true", [])
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT {ERASURE_COLUMNS} FROM erasures WHERE {where} ORDER BY at DESC, pk DESC LIMIT %s",
                (*params, limit),
            ).fetchall()
        return [erasure_from_row(row, lambda moment: moment) for row in rows]

    def add_history(self, rows: Sequence[HistoryRecord]) -> None:
        if not rows:
            return
        with self.writing() as conn:
            conn.cursor().executemany(
                f"INSERT INTO history ({HISTORY_COLUMNS}) VALUES ({placeholders(HISTORY_COLUMNS, '%s')})",
                [history_values(r, lambda moment: moment) for r in stored_history(rows)],
            )

    def add_episodes(self, episodes: Sequence[Episode]) -> None:
        if not episodes:
            return
        with self.writing() as conn:
            conn.cursor().executemany(
                f"INSERT INTO episodes (owner, {EPISODE_COLUMNS}) VALUES (%s, {placeholders(EPISODE_COLUMNS, '%s')})",
                [(e.scope.owner_key(), *episode_values(e, lambda moment: moment)) for e in episodes],
            )

    def link_episodes(self, links: Sequence[tuple[str, str]]) -> None:
        if not links:
            return
        with self.writing() as conn:
            conn.cursor().executemany(
                "INSERT INTO memory_episodes (memory_id, episode_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                list(links),
            )

    # -- reads -------------------------------------------------------------------------------

    def get_memory(self, memory_id: str, *, lock: bool = False) -> MemoryRecord | None:
        locking = " FOR UPDATE" if lock else ""
        with self.reading() as conn:
            row = conn.execute(f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = %s{locking}", (memory_id,)).fetchone()
        return _record(row) if row else None

    def list_memories(self, query: Query, limit: int) -> list[MemoryRecord]:
        where, params = read_clause(POSTGRES, query)
        if query.as_of is None:
            statement = (
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE {where} ORDER BY created_at DESC, pk DESC LIMIT %s"
            )
        else:
            statement = (
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE {where} UNION ALL "
                f"SELECT {VERSION_COLUMNS} FROM memory_versions WHERE {where} "
                "ORDER BY created_at DESC, valid_from DESC LIMIT %s"
            )
            params = params + params
        with self.reading() as conn:
            rows = conn.execute(statement, (*params, limit)).fetchall()
        return [_record(row) for row in rows]

    def count_memories(self, query: Query) -> int:
        where, params = read_clause(POSTGRES, query)
        tables = ["memories"] if query.as_of is None else ["memories", "memory_versions"]
        total = 0
        with self.reading() as conn:
            for table in tables:
                row = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()
                total += int(row[0]) if row else 0
        return total

    def find_by_hash(self, scope: Scope, hashes: Sequence[str]) -> dict[str, MemoryRecord]:
        """Current memories only: a fact restated after it was retracted or superseded is new again.

        Inside a transaction this also locks the scope's owner until commit: a check for
        duplicates followed by inserts is then never interleaved with another writer's (as SQLite's
        single writer guarantees), so concurrent adds of one text store it once."""
        if not hashes:
            return {}
        where, params = scope_clause(POSTGRES, scope)
        with self.reading() as conn:
            if getattr(self._local, "conn", None) is not None:
                _lock_owner(conn, scope)
            rows = conn.execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE {where} AND invalid_at IS NULL AND hash = ANY(%s)",
                (*params, list(hashes)),
            ).fetchall()
        return {record.hash: record for record in map(_record, rows)}

    def get_memories(
        self, memory_ids: Sequence[str], as_of: datetime | None = None, *, lock: bool = False
    ) -> dict[str, MemoryRecord]:
        if not memory_ids:
            return {}
        params: list[Any]
        if as_of is None:
            locking = " ORDER BY id FOR UPDATE" if lock else ""  # in one order: two writers never deadlock
            statement = f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ANY(%s){locking}"
            params = [list(memory_ids)]
        else:
            valid = "valid_from <= %s AND (invalid_at IS NULL OR invalid_at > %s)"
            statement = (
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ANY(%s) AND {valid} UNION ALL "
                f"SELECT {VERSION_COLUMNS} FROM memory_versions WHERE memory_id = ANY(%s) AND {valid}"
            )
            params = [list(memory_ids), as_of, as_of] * 2
        with self.reading() as conn:
            rows = conn.execute(statement, params).fetchall()
        found: dict[str, MemoryRecord] = {}
        for record in map(_record, rows):
            found.setdefault(record.id, record)
        return found

    def list_versions(self, memory_id: str) -> list[MemoryRecord]:
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM memory_versions WHERE memory_id = %s ORDER BY valid_from, pk",
                (memory_id,),
            ).fetchall()
        return [_record(row) for row in rows]

    def vector_search(self, query: Query, vector: Vector, limit: int) -> list[tuple[str, float]]:
        if limit <= 0:
            return []
        where, params = read_clause(POSTGRES, query)
        probe = _VectorArg(vector)
        if query.as_of is not None:  # exact, over the scope's versions valid then
            with self.reading() as conn:
                rows = conn.execute(
                    f"SELECT id, 1 - (embedding <=> %b) AS score FROM memories WHERE {where} UNION ALL "
                    f"SELECT memory_id, 1 - (embedding <=> %b) FROM memory_versions WHERE {where} "
                    "ORDER BY score DESC LIMIT %s",
                    (probe, *params, probe, *params, limit),
                ).fetchall()
            return [(memory_id, float(score)) for memory_id, score in rows]
        with self.reading() as conn:
            if self._scope_is_small(conn, query.scope):
                # Ordering by similarity (not by the distance operator) keeps the planner off the
                # HNSW index: an exact answer over the scope's rows, found through the btree indexes.
                rows = conn.execute(
                    f"SELECT id, 1 - (embedding <=> %b) AS score FROM memories "
                    f"WHERE {where} ORDER BY score DESC, pk LIMIT %s",
                    (probe, *params, limit),
                ).fetchall()
                return [(memory_id, float(score)) for memory_id, score in rows]
        with self.writing() as conn:  # SET LOCAL needs a transaction
            # A huge scope: walk the HNSW graph, which keeps scanning until enough rows pass the
            # WHERE clause (iterative scan); the outer ORDER BY restores the exact order.
            conn.execute(
                "SELECT set_config('hnsw.ef_search', %s, true), "
                "set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                (str(min(1000, max(self.settings.ef_search, limit))),),
            )
            rows = conn.execute(
                "SELECT * FROM (SELECT id, 1 - (embedding <=> %b) AS score "
                f"FROM memories WHERE {where} ORDER BY embedding <=> %b LIMIT %s) AS near "
                "ORDER BY score DESC",
                (probe, *params, probe, limit),
            ).fetchall()
        return [(memory_id, float(score)) for memory_id, score in rows]

    def _scope_is_small(self, conn: psycopg.Connection[Any], scope: Scope) -> bool:
        """Whether the scope holds at most ``exact_search_max`` memories (reads at most that many keys)."""
        where, params = scope_clause(POSTGRES, scope)
        row = conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM memories WHERE {where} LIMIT %s) AS scoped",
            (*params, self.settings.exact_search_max + 1),
        ).fetchone()
        return row is not None and int(row[0]) <= self.settings.exact_search_max

    def keyword_search(self, query: Query, text: str, limit: int) -> list[tuple[str, float]]:
        terms = ts_query(text)
        if terms is None or limit <= 0:
            return []
        where, params = read_clause(POSTGRES, query)
        # ts_rank with length normalisation (1), like BM25's; ts_rank_cd was 3-5x slower on
        # scopes of 100k memories (bench_postgres.py) for no better ranking of short texts.
        statement = (
            "SELECT id, ts_rank(fts, q, 1) AS score "
            f"FROM memories, to_tsquery('{TEXT_SEARCH_CONFIG}', %s) AS q "
            f"WHERE fts @@ q AND {where} ORDER BY score DESC, pk LIMIT %s"
        )
        arguments: list[Any] = [terms, *params, limit]
        if query.as_of is not None:  # the versions valid then compete too
            statement = (
                f"SELECT * FROM (({statement}) UNION ALL (SELECT memory_id, ts_rank(fts, q, 1) AS score "
                f"FROM memory_versions, to_tsquery('{TEXT_SEARCH_CONFIG}', %s) AS q "
                f"WHERE fts @@ q AND {where} ORDER BY score DESC, pk LIMIT %s)) AS hits ORDER BY score DESC LIMIT %s"
            )
            arguments += [terms, *params, limit, limit]
        with self.reading() as conn:
            rows = conn.execute(statement, arguments).fetchall()
        return [(memory_id, float(score)) for memory_id, score in rows]

    def history(self, memory_id: str) -> list[HistoryRecord]:
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT {HISTORY_COLUMNS} FROM history WHERE memory_id = %s ORDER BY seq",
                (memory_id,),
            ).fetchall()
        return [history_from_row(r, lambda moment: moment) for r in rows]

    def deleted_history(self, scope: Scope | None, batch: int = 1000) -> Iterator[list[HistoryRecord]]:
        where, params = scope_clause(POSTGRES, scope.owner_only(), "h") if scope is not None else ("true", [])
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT {', '.join('h.' + c.strip() for c in HISTORY_COLUMNS.split(','))} FROM history h "
                f"WHERE {where} AND NOT EXISTS (SELECT 1 FROM memories m WHERE m.id = h.memory_id) ORDER BY h.seq",
                params,
            ).fetchall()
        yield from history_batches([history_from_row(r, lambda moment: moment) for r in rows], batch)

    def recent_messages(self, scope: Scope, limit: int) -> list[StoredMessage]:
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT role, content, name, created_at FROM episodes WHERE owner = %s AND role <> 'system' "
                "ORDER BY pk DESC LIMIT %s",
                (scope.owner_key(), limit),
            ).fetchall()
        return [StoredMessage(r[0], r[1], r[2], r[3]) for r in reversed(rows)]

    def list_episodes(self, scope: Scope, *, before: datetime | None = None, limit: int = 100) -> list[Episode]:
        where, params = scope_clause(POSTGRES, scope)
        if before is not None:
            where += " AND created_at < %s"
            params.append(before)
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT {EPISODE_COLUMNS} FROM episodes WHERE {where} "
                "ORDER BY created_at DESC, position DESC, pk DESC LIMIT %s",
                (*params, limit),
            ).fetchall()
        return [episode_from_row(r, lambda moment: moment) for r in reversed(rows)]

    def memory_episodes(self, memory_id: str) -> list[Episode]:
        columns = ", ".join(f"e.{column.strip()}" for column in EPISODE_COLUMNS.split(","))
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM memory_episodes l JOIN episodes e ON e.id = l.episode_id "
                "WHERE l.memory_id = %s ORDER BY e.created_at, e.position, e.pk",
                (memory_id,),
            ).fetchall()
        return [episode_from_row(r, lambda moment: moment) for r in rows]

    def episode_memories(self, episode_ids: Sequence[str]) -> dict[str, list[str]]:
        if not episode_ids:
            return {}
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT episode_id, memory_id FROM memory_episodes WHERE episode_id = ANY(%s) "
                "ORDER BY episode_id, memory_id",
                (list(episode_ids),),
            ).fetchall()
        found: dict[str, list[str]] = {}
        for episode_id, memory_id in rows:
            found.setdefault(episode_id, []).append(memory_id)
        return found

    def episode_search(self, query: Query, text: str, limit: int) -> list[tuple[Episode, float]]:
        terms = ts_query(text)
        if terms is None or limit <= 0:
            return []
        scoped, params = scope_clause(POSTGRES, query.scope, "e")
        if query.as_of is None:
            said, retracted = "true", "m.invalid_at IS NOT NULL"
        else:
            said, retracted = "e.created_at <= %s", "m.invalid_at <= %s"
            params += [query.as_of, query.as_of]
        columns = ", ".join(f"e.{column.strip()}" for column in EPISODE_COLUMNS.split(","))
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT {columns}, ts_rank(e.fts, q, 1) AS score "
                f"FROM episodes e, to_tsquery('{TEXT_SEARCH_CONFIG}', %s) AS q "
                f"WHERE e.fts @@ q AND {scoped} AND e.role <> 'system' AND {said} AND NOT EXISTS "
                "(SELECT 1 FROM memory_episodes l JOIN memories m ON m.id = l.memory_id "
                f"WHERE l.episode_id = e.id AND {retracted}) ORDER BY score DESC, e.pk LIMIT %s",
                (terms, *params, limit),
            ).fetchall()
        return [(episode_from_row(row[:-1], lambda moment: moment), float(row[-1])) for row in rows]

    # -- browsing (the dashboard) --------------------------------------------------------

    def list_scopes(self, now: datetime | None) -> list[ScopeCount]:
        live = "expiration_date IS NULL OR expiration_date > %s" if now is not None else "true"
        parts = [
            f"SELECT '{kind}', {kind}, count(*) FROM memories "
            f"WHERE {kind} IS NOT NULL AND invalid_at IS NULL AND ({live}) GROUP BY {kind}"
            for kind in SCOPE_KINDS
        ]
        params = [now] * len(SCOPE_KINDS) if now is not None else []
        with self.reading() as conn:
            # text ordered by code point ("C"), as SQLite orders it
            rows = conn.execute(
                f'SELECT * FROM ({" UNION ALL ".join(parts)}) AS scopes (kind, id, n) ORDER BY kind, id COLLATE "C"',
                params,
            ).fetchall()
        return [ScopeCount(kind, scope_id, int(count)) for kind, scope_id, count in rows]

    def page_memories(self, query: Query, page: Page) -> list[MemoryRecord]:
        where, params = read_clause(POSTGRES, query)
        if query.as_of is None:
            # Rank the page's rows by key first, then read only them.
            order = page.order_sql(text_collation=' COLLATE "C"')
            statement = (
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE pk IN "
                f"(SELECT pk FROM memories WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s) ORDER BY {order}"
            )
        else:  # the memories and earlier versions valid then, as list_memories reads them
            order = page.order_sql(text_collation=' COLLATE "C"', ties=AS_OF_TIES)
            statement = (
                f"SELECT * FROM (SELECT {MEMORY_COLUMNS} FROM memories WHERE {where} UNION ALL "
                f"SELECT {VERSION_COLUMNS} FROM memory_versions WHERE {where}) AS page "
                f"ORDER BY {order} LIMIT %s OFFSET %s"
            )
            params = params + params
        with self.reading() as conn:
            rows = conn.execute(statement, (*params, page.limit, page.offset)).fetchall()
        return [_record(row) for row in rows]

    # -- lifecycle and portability: prune, stats, export and import -------------------------

    def delete_expired(self, now: datetime) -> list[MemoryRecord]:
        with self.writing() as conn:
            rows = conn.execute(
                f"DELETE FROM memories WHERE expiration_date <= %s RETURNING {MEMORY_COLUMNS}", (now,)
            ).fetchall()
            ids = [row[0] for row in rows]
            conn.execute("DELETE FROM memory_versions WHERE memory_id = ANY(%s)", (ids,))
            conn.execute("DELETE FROM memory_episodes WHERE memory_id = ANY(%s)", (ids,))
            _tombstone_history(conn, "memory_id = ANY(%s)", [ids])
        return [_record(row) for row in rows]

    def delete_outdated(self, cutoff: datetime) -> dict[str, int]:
        with self.writing() as conn:
            versions = conn.execute("DELETE FROM memory_versions WHERE invalid_at < %s", (cutoff,)).rowcount
            ids = [row[0] for row in conn.execute("DELETE FROM memories WHERE invalid_at < %s RETURNING id", (cutoff,))]
            conn.execute("DELETE FROM memory_versions WHERE memory_id = ANY(%s)", (ids,))
            conn.execute("DELETE FROM memory_episodes WHERE memory_id = ANY(%s)", (ids,))
            _tombstone_history(conn, "memory_id = ANY(%s)", [ids])
            written_before = "DELETE FROM history WHERE coalesce(updated_at, created_at) < %s"
            history = conn.execute(written_before, (cutoff,)).rowcount
        return {"versions": versions, "retracted_memories": len(ids), "history_rows": history}

    def counts(self, scope: Scope | None, now: datetime) -> dict[str, int]:
        where, params = scope_clause(POSTGRES, scope) if scope is not None else ("true", [])
        with self.reading() as conn:
            row = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE invalid_at IS NULL AND expiration_date <= %s), "
                f"count(*) FILTER (WHERE invalid_at IS NOT NULL) FROM memories WHERE {where}",
                (now, *params),
            ).fetchone()
            assert row is not None
            total, expired, retracted = (int(value) for value in row)
            result = {"memories": total - expired - retracted, "expired": expired, "retracted": retracted}
            if scope is None:
                for table in ("memory_versions", "history", "episodes"):
                    counted = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
                    result[table.removeprefix("memory_")] = int(counted[0]) if counted else 0
        return result

    def export_memories(self, scope: Scope | None, batch: int = 1000) -> Iterator[list[ExportedMemory]]:
        where, params = scope_clause(POSTGRES, scope) if scope is not None else ("true", [])
        width, version_width = len(MEMORY_COLUMNS.split(",")), len(VERSION_COLUMNS.split(","))
        last = 0  # pages by pk: the order memories were stored in, read through the primary key
        while True:
            with self.reading() as conn:
                rows = conn.execute(
                    f"SELECT {MEMORY_COLUMNS}, embedding::text, search_text, pk FROM memories "
                    f"WHERE {where} AND pk > %s ORDER BY pk LIMIT %s",
                    (*params, last, batch),
                ).fetchall()
                if not rows:
                    return
                ids = [row[0] for row in rows]
                history: dict[str, list[HistoryRecord]] = {}
                for h in conn.execute(
                    f"SELECT {HISTORY_COLUMNS} FROM history WHERE memory_id = ANY(%s) ORDER BY seq", (ids,)
                ):
                    history.setdefault(h[1], []).append(history_from_row(h, lambda moment: moment))
                versions: dict[str, list[ExportedMemory]] = {}
                for v in conn.execute(
                    f"SELECT {VERSION_COLUMNS}, embedding::text, search_text FROM memory_versions "
                    "WHERE memory_id = ANY(%s) ORDER BY valid_from, pk",
                    (ids,),
                ):
                    vector = np.array(json.loads(v[version_width]), dtype=np.float32)
                    versions.setdefault(v[0], []).append(
                        ExportedMemory(_record(v[:version_width]), vector, v[version_width + 1], [])
                    )
                episode_columns = ", ".join(f"e.{column.strip()}" for column in EPISODE_COLUMNS.split(","))
                episodes: dict[str, list[Episode]] = {}
                for e in conn.execute(
                    f"SELECT l.memory_id, {episode_columns} FROM memory_episodes l JOIN episodes e "
                    "ON e.id = l.episode_id WHERE l.memory_id = ANY(%s) ORDER BY e.created_at, e.position, e.pk",
                    (ids,),
                ):
                    episodes.setdefault(e[0], []).append(episode_from_row(e[1:], lambda moment: moment))
            last = rows[-1][-1]
            yield [
                ExportedMemory(
                    _record(row[:width]),
                    np.array(json.loads(row[width]), dtype=np.float32),
                    row[width + 1],
                    history.get(row[0], []),
                    versions.get(row[0], []),
                    episodes.get(row[0], []),
                )
                for row in rows
            ]

    def import_memories(self, memories: Sequence[ExportedMemory]) -> int:
        with self.writing() as conn:
            ids = [m.record.id for m in memories]
            known = {row[0] for row in conn.execute("SELECT id FROM memories WHERE id = ANY(%s)", (ids,))}
            fresh = [m for m in memories if m.record.id not in known]
            if fresh:
                self.insert_memories([(m.record, m.vector, m.keyword_text) for m in fresh])
            for memory in fresh:
                for version in memory.versions:
                    self.insert_version(version.record, version.vector, version.keyword_text)
            cursor = conn.cursor()
            history = [
                history_values(row, lambda moment: moment)
                for memory in memories
                for row in stored_history(memory.history)
            ]
            if history:
                cursor.executemany(
                    f"INSERT INTO history ({HISTORY_COLUMNS}) VALUES ({placeholders(HISTORY_COLUMNS, '%s')}) "
                    "ON CONFLICT (id) DO NOTHING",
                    history,
                )
            episodes = {e.id: e for memory in memories for e in memory.episodes}
            if episodes:
                cursor.executemany(
                    f"INSERT INTO episodes (owner, {EPISODE_COLUMNS}) VALUES "
                    f"(%s, {placeholders(EPISODE_COLUMNS, '%s')}) ON CONFLICT (id) DO NOTHING",
                    [(e.scope.owner_key(), *episode_values(e, lambda moment: moment)) for e in episodes.values()],
                )
            self.link_episodes([(m.record.id, e.id) for m in memories for e in m.episodes])
        return len(fresh)


# -- errors ----------------------------------------------------------------------------------


def _errors(store: PostgresStore, action: str) -> AbstractContextManager[None]:
    """psycopg's exceptions as engram's (``postgres_db.postgres_errors``), with this store's pool advice."""
    hint = (
        f"raise max_connections in the pgvector config (now {store.settings.max_connections}) "
        "or the server's max_connections"
    )
    return postgres_errors(action, pool_hint=hint)


def _install_pgvector(conn: psycopg.Connection[Any]) -> list[str]:
    """Install pgvector when missing; the schema that holds it (searched after ours)."""
    vector_schema = _vector_schema(conn)
    if vector_schema is None:
        # Never inside our own schema: dropping it must not drop the extension for others.
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public")
        vector_schema = "public"
    return [vector_schema]


# An episode (``e``) that a memory still there came from: a scope's deletion or erasure leaves it, since
# the add that wrote both committed after the memories were deleted (read committed sees it then).
LINKED_TO_A_MEMORY = (
    "EXISTS (SELECT 1 FROM memory_episodes l JOIN memories m ON m.id = l.memory_id WHERE l.episode_id = e.id)"
)


def _tombstone_history(
    conn: psycopg.Connection[Any], where: str, params: Sequence[Any], *, forget_owner: bool = False
) -> int:
    """Take the text (and with ``forget_owner`` the scope ids) off these history rows; returns how many."""
    owner = f", {TOMBSTONE_OWNER}" if forget_owner else ""
    return conn.execute(f"UPDATE history SET {TOMBSTONE}{owner} WHERE {where}", params).rowcount


def _lock_owner(conn: psycopg.Connection[Any], scope: Scope) -> None:
    """Wait for, then hold until commit, the lock on the scope's owners (user, agent, run)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (scope.owner_key(),))


def _vector_schema(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'"
    ).fetchone()
    return str(row[0]) if row else None


def url_from_parts(settings: dict[str, Any]) -> str:
    """A URL from mem0-style connection keys (dbname, user, password, host, port, sslmode)."""
    keys = ("dbname", "user", "password", "host", "port", "sslmode")
    return make_conninfo(**{key: settings.pop(key) for key in keys if key in settings})


# -- rows ------------------------------------------------------------------------------------


def _record_values(record: MemoryRecord) -> tuple[Any, ...]:
    return record_values(record, lambda moment: moment)


def _record(row: Sequence[Any]) -> MemoryRecord:
    return record_from_row(row, lambda moment: moment)


# -- SQL for scopes, keyword queries and filters ---------------------------------------------
