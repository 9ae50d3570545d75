"""The graph part of a store: entities, relations and the memory↔entity links.

Each backend keeps them in its own database (``graph_sqlite.py``, ``graph_postgres.py``), in
tables created by its migrations, and reaches them as ``store.graph``. Writes run inside the
store's transaction, so a memory and the graph rows that come with it commit or roll back as one.

Reads take a ``Scope`` with the same meaning as for memories: the ids it sets must match.
Writes about one owner (``Entity.owner``) match it exactly: the user's entities are not the
same rows as the entities of that user's session with an agent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from engram.models import Entity, Relation, Scope
from engram.storage.base import Query, Vector

ENTITY_COLUMNS = "id, name, key, type, user_id, agent_id, run_id, created_at"
RELATION_COLUMNS = (
    "id, source_id, relationship, destination_id, user_id, agent_id, run_id, "
    "valid_from, invalid_at, created_at, memory_ids, episode_ids"
)
RELATION_COLUMNS_R = ", ".join(f"r.{column.strip()}" for column in RELATION_COLUMNS.split(","))
"""The relation columns qualified by the alias ``r``, for joins."""
GRAPH_TABLES = ("memory_entities", "relations", "entities")
"""The graph's tables, in the order they are dropped or emptied."""


class GraphStore(Protocol):
    backend: str  # "sqlite" or "postgres": what ``graph_store.provider`` must name

    # -- writes (inside the store's transaction) ---------------------------------------------
    def save_entities(self, rows: Sequence[tuple[Entity, Vector | None]]) -> dict[str, Entity]:
        """Insert entities new to their owner; return every given key's entity as stored
        (an entity another writer stored first under the same key wins)."""
        ...

    def insert_relations(self, relations: Sequence[Relation]) -> None: ...

    def invalidate_relations(self, relations: Sequence[Relation]) -> None:
        """Set ``invalid_at`` of these relations (by id) to theirs."""
        ...

    def link_memories(self, links: Sequence[tuple[str, str]]) -> None:
        """Record that memory (first) mentions entity (second); repeats are ignored."""
        ...

    def forget_memory(self, memory_id: str) -> None:
        """A user deleted this memory: drop its links, take it off the relations extracted with it (those
        left with no memory go), and drop the entities it alone mentioned (no other link, no relation)."""
        ...

    def delete_graph(self, scope: Scope) -> dict[str, int]:
        """Delete the scope's entities, relations and links (with ``delete_all`` and ``erase_scope``);
        returns how many rows of each table (``entities``, ``relations``, ``memory_entities``)."""
        ...

    # -- reads -----------------------------------------------------------------------------------
    def owner_entities(self, owner: Scope) -> list[tuple[Entity, Vector | None]]:
        """Every entity of exactly this owner, with its name's embedding."""
        ...

    def current_relations(self, owner: Scope, source_ids: Sequence[str]) -> list[Relation]:
        """The owner's relations from these sources that have no ``invalid_at``."""
        ...

    def find_entities(self, scope: Scope, keys: Sequence[str]) -> list[Entity]:
        """The scope's entities whose normalised name is one of ``keys``."""
        ...

    def relations_touching(self, scope: Scope, entity_ids: Sequence[str], as_of: datetime | None) -> list[Relation]:
        """The scope's relations valid at ``as_of`` (None: current ones) from or to any of
        ``entity_ids``, with the entities' names, newest first."""
        ...

    def linked_memories(self, query: Query, entity_ids: Sequence[str], limit: int) -> list[tuple[str, str]]:
        """(memory_id, entity_id) for the memories ``query`` may see that are linked to these
        entities, newest first."""
        ...

    def export_graph(self, memory_ids: Sequence[str]) -> tuple[dict[str, list[Entity]], dict[str, list[Relation]]]:
        """For export: by memory id, the entities it is linked to and the relations (with the
        entities' names) that list it among their memories, every validity included."""
        ...

    def list_relations(self, scope: Scope, *, as_of: datetime | None, limit: int) -> list[Relation]:
        """The scope's relations valid at ``as_of`` (None: current ones), with the entities' names,
        newest first."""
        ...


def entity_values(entity: Entity, time: Callable[[datetime], Any]) -> tuple[Any, ...]:
    owner = entity.owner
    return (
        entity.id,
        entity.name,
        entity.key,
        entity.type,
        owner.user_id,
        owner.agent_id,
        owner.run_id,
        time(entity.created_at),
    )


def entity_from_row(row: Sequence[Any], time: Callable[[Any], datetime]) -> Entity:
    return Entity(
        id=row[0],
        name=row[1],
        key=row[2],
        type=row[3],
        owner=Scope(row[4], row[5], row[6]),
        created_at=time(row[7]),
    )


def relation_values(relation: Relation, time: Callable[[datetime], Any]) -> tuple[Any, ...]:
    owner = relation.owner
    return (
        relation.id,
        relation.source_id,
        relation.relationship,
        relation.destination_id,
        owner.user_id,
        owner.agent_id,
        owner.run_id,
        time(relation.valid_from),
        time(relation.invalid_at) if relation.invalid_at else None,
        time(relation.created_at),
        json.dumps(list(relation.memory_ids)),
        json.dumps(list(relation.episode_ids)),
    )


def relation_from_row(row: Sequence[Any], time: Callable[[Any], datetime]) -> Relation:
    """A relation from ``RELATION_COLUMNS`` (then, optionally, the source's and destination's names)."""
    memory_ids = row[10] if isinstance(row[10], list) else json.loads(row[10])
    episode_ids = row[11] if isinstance(row[11], list) else json.loads(row[11])
    return Relation(
        id=row[0],
        source_id=row[1],
        relationship=row[2],
        destination_id=row[3],
        owner=Scope(row[4], row[5], row[6]),
        valid_from=time(row[7]),
        invalid_at=time(row[8]) if row[8] is not None else None,
        created_at=time(row[9]),
        memory_ids=tuple(memory_ids),
        episode_ids=tuple(episode_ids),
        source=row[12] if len(row) > 12 else "",
        destination=row[13] if len(row) > 13 else "",
    )
