"""The graph in export files (docs/lifecycle.md): each exported memory carries the entities it names and
the relations extracted with it; an import re-creates them in the target store."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

from engram.models import Entity
from engram.pipeline.entities import normalise_name
from engram.storage.base import ExportedMemory, Store


def attach_graph(store: Store, batch: Sequence[ExportedMemory]) -> list[ExportedMemory]:
    """An export batch with each memory's entities and relations filled in."""
    entities, relations = store.graph.export_graph([item.record.id for item in batch])
    return [
        replace(item, entities=entities.get(item.record.id, []), relations=relations.get(item.record.id, []))
        for item in batch
    ]


def import_graph(store: Store, batch: Sequence[ExportedMemory]) -> None:
    """Inside an import's transaction: the batch's entities (matched to the store's by owner and
    normalised name), relations (by id: one already stored is left alone) and memory links.
    Imported entities carry no name embedding, so later mentions match them by name only."""
    wanted: dict[tuple[str, str], Entity] = {}
    for item in batch:
        owner = item.record.scope.owner_only()
        named = [*item.entities]
        named += [Entity("", r.source, normalise_name(r.source), owner, r.created_at) for r in item.relations]
        named += [Entity("", r.destination, normalise_name(r.destination), owner, r.created_at) for r in item.relations]
        for entity in named:
            key = (owner.owner_key(), entity.key)
            if entity.key and key not in wanted:
                wanted[key] = replace(entity, id=str(uuid.uuid4()), owner=owner)
    stored: dict[tuple[str, str], Entity] = {}
    for owner_key in {owner for owner, _ in wanted}:
        rows = [(entity, None) for (o, _), entity in wanted.items() if o == owner_key]
        stored |= {(owner_key, key): entity for key, entity in store.graph.save_entities(rows).items()}
    links, relations = [], []
    for item in batch:
        owner_key = item.record.scope.owner_only().owner_key()
        links += [(item.record.id, stored[(owner_key, e.key)].id) for e in item.entities if e.key]
        for r in item.relations:
            source = stored[(owner_key, normalise_name(r.source))]
            destination = stored[(owner_key, normalise_name(r.destination))]
            relations.append(
                replace(r, source_id=source.id, destination_id=destination.id, owner=item.record.scope.owner_only())
            )
    store.graph.link_memories(links)
    store.graph.insert_relations(list({r.id: r for r in relations}.values()))


__all__ = ["attach_graph", "import_graph"]
