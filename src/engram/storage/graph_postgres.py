"""The graph tables in the PostgreSQL schema (``PostgresStore.graph``); see storage/graph.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from engram.models import Entity, Relation, Scope
from engram.storage.base import Query, Vector
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
from engram.storage.postgres_sql import POSTGRES

if TYPE_CHECKING:
    import psycopg

    from engram.storage.postgres import PostgresStore


def add_graph_tables(conn: psycopg.Connection[Any]) -> None:
    """The migration that creates the graph tables (self-contained: it needs no other migration)."""
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS entities (
            pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text NOT NULL UNIQUE,
            owner text NOT NULL,
            name text NOT NULL,
            key text NOT NULL,
            type text,
            user_id text, agent_id text, run_id text,
            created_at timestamptz NOT NULL,
            embedding bytea
        );
        CREATE UNIQUE INDEX IF NOT EXISTS entities_owner_key ON entities (owner, key);
        CREATE INDEX IF NOT EXISTS entities_user_key ON entities (user_id, key);
        CREATE INDEX IF NOT EXISTS entities_agent_key ON entities (agent_id, key);
        CREATE INDEX IF NOT EXISTS entities_run_key ON entities (run_id, key);
        CREATE TABLE IF NOT EXISTS relations (
            pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id text NOT NULL UNIQUE,
            owner text NOT NULL,
            source_id text NOT NULL,
            relationship text NOT NULL,
            destination_id text NOT NULL,
            user_id text, agent_id text, run_id text,
            valid_from timestamptz NOT NULL,
            invalid_at timestamptz,
            created_at timestamptz NOT NULL,
            memory_ids jsonb NOT NULL DEFAULT '[]',
            episode_ids jsonb NOT NULL DEFAULT '[]'
        );
        CREATE INDEX IF NOT EXISTS relations_source ON relations (source_id, relationship);
        CREATE INDEX IF NOT EXISTS relations_destination ON relations (destination_id);
        CREATE INDEX IF NOT EXISTS relations_user ON relations (user_id);
        CREATE INDEX IF NOT EXISTS relations_agent ON relations (agent_id);
        CREATE INDEX IF NOT EXISTS relations_run ON relations (run_id);
        CREATE TABLE IF NOT EXISTS memory_entities (
            memory_id text NOT NULL,
            entity_id text NOT NULL,
            PRIMARY KEY (entity_id, memory_id)
        );
        CREATE INDEX IF NOT EXISTS memory_entities_memory ON memory_entities (memory_id);
        """
    )


def _same(moment: datetime) -> datetime:
    return moment


class PostgresGraph:
    """Entities, relations and links in the store's schema, on the thread's transaction connection."""

    backend = "postgres"

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def _read(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._store.reading() as conn:
            return conn.execute(statement, params).fetchall()

    # -- writes -------------------------------------------------------------------------------

    def save_entities(self, rows: Sequence[tuple[Entity, Vector | None]]) -> dict[str, Entity]:
        if not rows:
            return {}
        with self._store.writing() as conn:
            conn.cursor().executemany(
                f"INSERT INTO entities ({ENTITY_COLUMNS}, owner, embedding) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (owner, key) DO NOTHING",
                [(*entity_values(e, _same), e.owner.owner_key(), _bytes(v)) for e, v in rows],
            )
            stored: dict[str, Entity] = {}
            for entity, _ in rows:
                row = conn.execute(
                    f"SELECT {ENTITY_COLUMNS} FROM entities WHERE owner = %s AND key = %s",
                    (entity.owner.owner_key(), entity.key),
                ).fetchone()
                assert row is not None
                stored[entity.key] = entity_from_row(row, _same)
        return stored

    def insert_relations(self, relations: Sequence[Relation]) -> None:
        if not relations:
            return
        with self._store.writing() as conn:
            conn.cursor().executemany(
                f"INSERT INTO relations ({RELATION_COLUMNS}, owner) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                [(*relation_values(r, _same), r.owner.owner_key()) for r in relations],
            )

    def invalidate_relations(self, relations: Sequence[Relation]) -> None:
        if not relations:
            return
        with self._store.writing() as conn:
            conn.cursor().executemany(
                "UPDATE relations SET invalid_at = %s WHERE id = %s", [(r.invalid_at, r.id) for r in relations]
            )

    def link_memories(self, links: Sequence[tuple[str, str]]) -> None:
        if not links:
            return
        with self._store.writing() as conn:
            conn.cursor().executemany(
                "INSERT INTO memory_entities (memory_id, entity_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                list(links),
            )

    def forget_memory(self, memory_id: str) -> None:
        with self._store.writing() as conn:
            linked = conn.execute(
                "DELETE FROM memory_entities WHERE memory_id = %s RETURNING entity_id", (memory_id,)
            ).fetchall()
            # Off every relation that lists it; those left with no memory go.
            touched = conn.execute(
                "UPDATE relations SET memory_ids = memory_ids - %s::text WHERE memory_ids @> %s::jsonb RETURNING id",
                (memory_id, json.dumps([memory_id])),
            ).fetchall()
            conn.execute(
                "DELETE FROM relations WHERE memory_ids = '[]'::jsonb AND id = ANY(%s)", ([row[0] for row in touched],)
            )
            conn.execute(
                "DELETE FROM entities e WHERE e.id = ANY(%s) "
                "AND NOT EXISTS (SELECT 1 FROM memory_entities l WHERE l.entity_id = e.id) "
                "AND NOT EXISTS (SELECT 1 FROM relations r WHERE r.source_id = e.id OR r.destination_id = e.id)",
                ([row[0] for row in linked],),
            )

    def delete_graph(self, scope: Scope) -> dict[str, int]:
        where, params = scope_clause(POSTGRES, scope.owner_only(), what="the graph")
        with self._store.writing() as conn:
            links = conn.execute(
                f"DELETE FROM memory_entities WHERE entity_id IN (SELECT id FROM entities WHERE {where})", params
            ).rowcount
            relations = conn.execute(f"DELETE FROM relations WHERE {where}", params).rowcount
            entities = conn.execute(f"DELETE FROM entities WHERE {where}", params).rowcount
        return {"memory_entities": links, "relations": relations, "entities": entities}

    # -- reads ----------------------------------------------------------------------------------

    def owner_entities(self, owner: Scope) -> list[tuple[Entity, Vector | None]]:
        rows = self._read(
            f"SELECT {ENTITY_COLUMNS}, embedding FROM entities WHERE owner = %s ORDER BY pk", (owner.owner_key(),)
        )
        return [(entity_from_row(row, _same), _vector(row[8])) for row in rows]

    def current_relations(self, owner: Scope, source_ids: Sequence[str]) -> list[Relation]:
        if not source_ids:
            return []
        rows = self._read(
            f"SELECT {RELATION_COLUMNS} FROM relations WHERE owner = %s AND invalid_at IS NULL "
            "AND source_id = ANY(%s) ORDER BY pk",
            (owner.owner_key(), list(source_ids)),
        )
        return [relation_from_row(row, _same) for row in rows]

    def find_entities(self, scope: Scope, keys: Sequence[str]) -> list[Entity]:
        if not keys:
            return []
        where, params = scope_clause(POSTGRES, scope.owner_only(), what="the graph")
        rows = self._read(
            f"SELECT {ENTITY_COLUMNS} FROM entities WHERE {where} AND key = ANY(%s) ORDER BY pk",
            (*params, list(keys)),
        )
        return [entity_from_row(row, _same) for row in rows]

    def linked_memories(self, query: Query, entity_ids: Sequence[str], limit: int) -> list[tuple[str, str]]:
        if not entity_ids:
            return []
        where, params = read_clause(POSTGRES, query)  # the memories' own scope, expiry and filters
        rows = self._read(
            "SELECT l.memory_id, l.entity_id FROM memory_entities l JOIN memories ON memories.id = l.memory_id "
            f"WHERE l.entity_id = ANY(%s) AND {where} ORDER BY memories.created_at DESC LIMIT %s",
            (list(entity_ids), *params, limit),
        )
        return [(row[0], row[1]) for row in rows]

    def export_graph(self, memory_ids: Sequence[str]) -> tuple[dict[str, list[Entity]], dict[str, list[Relation]]]:
        entities: dict[str, list[Entity]] = {}
        relations: dict[str, list[Relation]] = {}
        if not memory_ids:
            return entities, relations
        ids = list(memory_ids)
        columns = ", ".join(f"e.{c.strip()}" for c in ENTITY_COLUMNS.split(","))
        for row in self._read(
            f"SELECT l.memory_id, {columns} FROM memory_entities l JOIN entities e ON e.id = l.entity_id "
            "WHERE l.memory_id = ANY(%s) ORDER BY e.pk",
            (ids,),
        ):
            entities.setdefault(row[0], []).append(entity_from_row(row[1:], _same))
        for row in self._read(
            f"SELECT j.value, {RELATION_COLUMNS_R}, s.name, d.name "
            "FROM relations r CROSS JOIN LATERAL jsonb_array_elements_text(r.memory_ids) AS j(value) "
            "JOIN entities s ON s.id = r.source_id JOIN entities d ON d.id = r.destination_id "
            "WHERE j.value = ANY(%s) ORDER BY r.pk",
            (ids,),
        ):
            relations.setdefault(row[0], []).append(relation_from_row(row[1:], _same))
        return entities, relations

    def list_relations(self, scope: Scope, *, as_of: datetime | None, limit: int) -> list[Relation]:
        return self._relations(scope, as_of, "", [], limit)

    def relations_touching(self, scope: Scope, entity_ids: Sequence[str], as_of: datetime | None) -> list[Relation]:
        if not entity_ids:
            return []
        touching = " AND (r.source_id = ANY(%s) OR r.destination_id = ANY(%s))"
        return self._relations(scope, as_of, touching, [list(entity_ids), list(entity_ids)], None)

    def _relations(
        self, scope: Scope, as_of: datetime | None, extra: str, extra_params: list[Any], limit: int | None
    ) -> list[Relation]:
        where, params = scope_clause(POSTGRES, scope.owner_only(), "r", what="the graph")
        valid, valid_params = validity_clause(POSTGRES, as_of, "r")
        rows = self._read(
            f"SELECT {RELATION_COLUMNS_R}, s.name, d.name FROM relations r "
            "JOIN entities s ON s.id = r.source_id JOIN entities d ON d.id = r.destination_id "
            f"WHERE {where} AND {valid}{extra} ORDER BY r.valid_from DESC, r.pk DESC LIMIT %s",
            (*params, *valid_params, *extra_params, limit),
        )
        return [relation_from_row(row, _same) for row in rows]


def _bytes(vector: Vector | None) -> bytes | None:
    return None if vector is None else np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def _vector(data: bytes | None) -> Vector | None:
    return None if data is None else np.frombuffer(bytes(data), dtype=np.float32)
