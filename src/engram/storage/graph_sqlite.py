"""The graph tables in the SQLite file (``SQLiteStore.graph``); see storage/graph.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from engram.models import Entity, Relation, Scope, iso
from engram.storage.base import Query, Vector, iter_chunks
from engram.storage.clauses import read_clause, scope_clause, validity_clause
from engram.storage.graph_rows import (
    ENTITY_COLUMNS,
    RELATION_COLUMNS,
    RELATION_COLUMNS_R,
    entity_from_row,
    entity_values,
    relation_from_row,
    relation_values,
)
from engram.storage.sqlite_sql import SQLITE

if TYPE_CHECKING:
    from engram.storage.sqlite import SQLiteStore


def add_graph_tables(db: sqlite3.Connection) -> None:
    """The migration that creates the graph tables (self-contained: it needs no other migration)."""
    for statement in (
        """CREATE TABLE IF NOT EXISTS entities (
            pk INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            owner TEXT NOT NULL,
            name TEXT NOT NULL,
            key TEXT NOT NULL,
            type TEXT,
            user_id TEXT, agent_id TEXT, run_id TEXT,
            created_at TEXT NOT NULL,
            embedding BLOB
        )""",
        "CREATE UNIQUE INDEX IF NOT EXISTS entities_owner_key ON entities (owner, key)",
        "CREATE INDEX IF NOT EXISTS entities_user_key ON entities (user_id, key)",
        "CREATE INDEX IF NOT EXISTS entities_agent_key ON entities (agent_id, key)",
        "CREATE INDEX IF NOT EXISTS entities_run_key ON entities (run_id, key)",
        """CREATE TABLE IF NOT EXISTS relations (
            pk INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            owner TEXT NOT NULL,
            source_id TEXT NOT NULL,
            relationship TEXT NOT NULL,
            destination_id TEXT NOT NULL,
            user_id TEXT, agent_id TEXT, run_id TEXT,
            valid_from TEXT NOT NULL,
            invalid_at TEXT,
            created_at TEXT NOT NULL,
            memory_ids TEXT NOT NULL DEFAULT '[]',
            episode_ids TEXT NOT NULL DEFAULT '[]'
        )""",
        "CREATE INDEX IF NOT EXISTS relations_source ON relations (source_id, relationship)",
        "CREATE INDEX IF NOT EXISTS relations_destination ON relations (destination_id)",
        "CREATE INDEX IF NOT EXISTS relations_user ON relations (user_id)",
        "CREATE INDEX IF NOT EXISTS relations_agent ON relations (agent_id)",
        "CREATE INDEX IF NOT EXISTS relations_run ON relations (run_id)",
        """CREATE TABLE IF NOT EXISTS memory_entities (
            memory_id TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            PRIMARY KEY (entity_id, memory_id)
        )""",
        "CREATE INDEX IF NOT EXISTS memory_entities_memory ON memory_entities (memory_id)",
    ):
        db.execute(statement)


class SQLiteGraph:
    """Entities, relations and links in the store's SQLite file, on the store's connection."""

    backend = "sqlite"

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._db = store.database  # the store's connection, lock and transactions

    def _run(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._db.guard:
            return self._db.connection.execute(statement, params).fetchall()

    # -- writes -------------------------------------------------------------------------------

    def save_entities(self, rows: Sequence[tuple[Entity, Vector | None]]) -> dict[str, Entity]:
        if not rows:
            return {}
        with self._store.transaction():
            self._db.connection.executemany(
                f"INSERT INTO entities ({ENTITY_COLUMNS}, owner, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (owner, key) DO NOTHING",
                [(*entity_values(e, iso), e.owner.owner_key(), _blob(v)) for e, v in rows],
            )
            stored: dict[str, Entity] = {}
            for entity, _ in rows:
                row = self._db.connection.execute(
                    f"SELECT {ENTITY_COLUMNS} FROM entities WHERE owner = ? AND key = ?",
                    (entity.owner.owner_key(), entity.key),
                ).fetchone()
                stored[entity.key] = entity_from_row(row, datetime.fromisoformat)
        return stored

    def insert_relations(self, relations: Sequence[Relation]) -> None:
        with self._store.transaction():
            self._db.connection.executemany(
                f"INSERT INTO relations ({RELATION_COLUMNS}, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                [(*relation_values(r, iso), r.owner.owner_key()) for r in relations],
            )

    def invalidate_relations(self, relations: Sequence[Relation]) -> None:
        with self._store.transaction():
            self._db.connection.executemany(
                "UPDATE relations SET invalid_at = ? WHERE id = ?",
                [(iso(r.invalid_at) if r.invalid_at else None, r.id) for r in relations],
            )

    def link_memories(self, links: Sequence[tuple[str, str]]) -> None:
        with self._store.transaction():
            self._db.connection.executemany(
                "INSERT OR IGNORE INTO memory_entities (memory_id, entity_id) VALUES (?, ?)", links
            )

    def forget_memory(self, memory_id: str) -> None:
        with self._store.transaction():
            db = self._db.connection
            linked = [
                row[0] for row in db.execute("SELECT entity_id FROM memory_entities WHERE memory_id = ?", (memory_id,))
            ]
            db.execute("DELETE FROM memory_entities WHERE memory_id = ?", (memory_id,))
            self._drop_from_relations(memory_id)
            for chunk in iter_chunks(linked, 500):
                marks = ", ".join("?" * len(chunk))
                db.execute(
                    f"DELETE FROM entities WHERE id IN ({marks}) "
                    "AND NOT EXISTS (SELECT 1 FROM memory_entities l WHERE l.entity_id = entities.id) "
                    "AND NOT EXISTS (SELECT 1 FROM relations r "
                    "WHERE r.source_id = entities.id OR r.destination_id = entities.id)",
                    chunk,
                )
            self._store.mark_erasing()

    def _drop_from_relations(self, memory_id: str) -> None:
        """Take the memory off every relation that lists it; a relation left with no memory goes."""
        db = self._db.connection
        listing = (
            "memory_ids LIKE ? AND EXISTS (SELECT 1 FROM json_each(memory_ids) WHERE value = ?)"  # text test first
        )
        touched = [
            row[0] for row in db.execute(f"SELECT id FROM relations WHERE {listing}", (f'%"{memory_id}"%', memory_id))
        ]
        for chunk in iter_chunks(touched, 500):
            marks = ", ".join("?" * len(chunk))
            db.execute(
                "UPDATE relations SET memory_ids = "
                "(SELECT json_group_array(value) FROM json_each(relations.memory_ids) WHERE value != ?) "
                f"WHERE id IN ({marks})",
                (memory_id, *chunk),
            )
            db.execute(f"DELETE FROM relations WHERE memory_ids = '[]' AND id IN ({marks})", chunk)

    def delete_graph(self, scope: Scope) -> dict[str, int]:
        where, params = scope_clause(SQLITE, scope.owner_only(), what="the graph")
        with self._store.transaction():
            db = self._db.connection
            counts = {
                "memory_entities": db.execute(
                    f"DELETE FROM memory_entities WHERE entity_id IN (SELECT id FROM entities WHERE {where})", params
                ).rowcount,
                "relations": db.execute(f"DELETE FROM relations WHERE {where}", params).rowcount,
                "entities": db.execute(f"DELETE FROM entities WHERE {where}", params).rowcount,
            }
            self._store.mark_erasing()
        return counts

    # -- reads ----------------------------------------------------------------------------------

    def owner_entities(self, owner: Scope) -> list[tuple[Entity, Vector | None]]:
        rows = self._run(
            f"SELECT {ENTITY_COLUMNS}, embedding FROM entities WHERE owner = ? ORDER BY pk", (owner.owner_key(),)
        )
        return [(entity_from_row(row, datetime.fromisoformat), _vector(row[8])) for row in rows]

    def current_relations(self, owner: Scope, source_ids: Sequence[str]) -> list[Relation]:
        found: list[Relation] = []
        for chunk in iter_chunks(list(source_ids), 500):
            marks = ", ".join("?" * len(chunk))
            rows = self._run(
                f"SELECT {RELATION_COLUMNS} FROM relations WHERE owner = ? AND invalid_at IS NULL "
                f"AND source_id IN ({marks}) ORDER BY pk",
                (owner.owner_key(), *chunk),
            )
            found += [relation_from_row(row, datetime.fromisoformat) for row in rows]
        return found

    def find_entities(self, scope: Scope, keys: Sequence[str]) -> list[Entity]:
        if not keys:
            return []
        where, params = scope_clause(SQLITE, scope.owner_only(), what="the graph")
        marks = ", ".join("?" * len(keys))
        rows = self._run(
            f"SELECT {ENTITY_COLUMNS} FROM entities WHERE {where} AND key IN ({marks}) ORDER BY pk",
            (*params, *keys),
        )
        return [entity_from_row(row, datetime.fromisoformat) for row in rows]

    def linked_memories(self, query: Query, entity_ids: Sequence[str], limit: int) -> list[tuple[str, str]]:
        if not entity_ids:
            return []
        where, params = read_clause(SQLITE, query, "m")  # the memories' own scope, expiry and filters
        marks = ", ".join("?" * len(entity_ids))
        rows = self._run(
            "SELECT l.memory_id, l.entity_id FROM memory_entities l JOIN memories m ON m.id = l.memory_id "
            f"WHERE l.entity_id IN ({marks}) AND {where} ORDER BY m.created_at DESC LIMIT ?",
            (*entity_ids, *params, limit),
        )
        return [(row[0], row[1]) for row in rows]

    def export_graph(self, memory_ids: Sequence[str]) -> tuple[dict[str, list[Entity]], dict[str, list[Relation]]]:
        entities: dict[str, list[Entity]] = {}
        relations: dict[str, list[Relation]] = {}
        for chunk in iter_chunks(list(memory_ids), 500):
            marks = ", ".join("?" * len(chunk))
            columns = ", ".join(f"e.{c.strip()}" for c in ENTITY_COLUMNS.split(","))
            for row in self._run(
                f"SELECT l.memory_id, {columns} FROM memory_entities l JOIN entities e ON e.id = l.entity_id "
                f"WHERE l.memory_id IN ({marks}) ORDER BY e.pk",
                chunk,
            ):
                entities.setdefault(row[0], []).append(entity_from_row(row[1:], datetime.fromisoformat))
            for row in self._run(
                f"SELECT j.value, {RELATION_COLUMNS_R}, s.name, d.name FROM relations r, json_each(r.memory_ids) j "
                "JOIN entities s ON s.id = r.source_id JOIN entities d ON d.id = r.destination_id "
                f"WHERE j.value IN ({marks}) ORDER BY r.pk",
                chunk,
            ):
                relations.setdefault(row[0], []).append(relation_from_row(row[1:], datetime.fromisoformat))
        return entities, relations

    def list_relations(self, scope: Scope, *, as_of: datetime | None, limit: int) -> list[Relation]:
        return self._relations(scope, as_of, "", [], limit)

    def relations_touching(self, scope: Scope, entity_ids: Sequence[str], as_of: datetime | None) -> list[Relation]:
        if not entity_ids:
            return []
        marks = ", ".join("?" * len(entity_ids))
        touching = f" AND (r.source_id IN ({marks}) OR r.destination_id IN ({marks}))"
        return self._relations(scope, as_of, touching, [*entity_ids, *entity_ids], -1)

    def _relations(
        self, scope: Scope, as_of: datetime | None, extra: str, extra_params: list[Any], limit: int
    ) -> list[Relation]:
        where, params = scope_clause(SQLITE, scope.owner_only(), "r", what="the graph")
        valid, valid_params = validity_clause(SQLITE, as_of, "r")
        rows = self._run(
            f"SELECT {RELATION_COLUMNS_R}, s.name, d.name FROM relations r "
            "JOIN entities s ON s.id = r.source_id JOIN entities d ON d.id = r.destination_id "
            f"WHERE {where} AND {valid}{extra} ORDER BY r.valid_from DESC, r.pk DESC LIMIT ?",
            (*params, *valid_params, *extra_params, limit),
        )
        return [relation_from_row(row, datetime.fromisoformat) for row in rows]


def _blob(vector: Vector | None) -> bytes | None:
    return None if vector is None else np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def _vector(blob: bytes | None) -> Vector | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float32)
