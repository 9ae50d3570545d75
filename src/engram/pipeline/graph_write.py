"""The graph step of add (docs/graph.md): the entities an add mentions and the relations between
them, drafted before the transaction opens (entity names are embedded and messages parsed then) and
written inside it (``write_graph``), so that a memory and its entities and relations commit together."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from engram.embedders import Embedder
from engram.graph_settings import GraphSettings
from engram.messages import Message
from engram.models import Entity, Relation, Scope, utcnow
from engram.pipeline.entities import (
    GraphExtraction,
    Mention,
    Triple,
    entity_recogniser,
    invalidate_contradicted,
    memories_mentioning,
    names_in,
    normalise_name,
    resolve_entities,
)
from engram.pipeline.plan import Context, Draft, WritePlan, self_name
from engram.pipeline.relation_patterns import read_relations
from engram.pipeline.slots import attribute_index
from engram.results import RelationChanges
from engram.storage.base import Store, Vector


@dataclass
class GraphDraft:
    """The graph change of one add, prepared before its transaction opens."""

    owner: Scope
    when: datetime
    mentions: list[Mention]
    vectors: dict[str, Vector] = field(default_factory=dict)  # name embeddings, by mention key
    links: dict[str, list[str]] = field(default_factory=dict)  # memory id -> keys of the entities it names
    triples: list[Triple] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # memory id -> text, to attribute relations
    one_value: set[str] = field(default_factory=set)  # the triples' relationships that hold one value at a time


def draft_add_graph(ctx: Context, plan: WritePlan, turns: list[Message], draft: Draft) -> GraphDraft:
    """The entities this add mentions, the relations between them, and which new or changed memory
    names which.

    With an LLM they come from the extraction call; when it answered no relations (the offline
    models never write any), the relations come from patterns over the user's own words
    (``relation_patterns.py``). Without an LLM (``infer=False``), the entities are each message's
    speaker and the names the local recogniser finds, and the relations come from the same patterns.
    """
    written = [record for record, _ in plan.inserts] + [new for _, new, _ in plan.updates]
    texts = {record.id: record.memory for record in written}
    speaker = self_name(turns, draft.scope)
    if plan.extracted_graph is not None:
        extracted = plan.extracted_graph
        if not extracted.triples:
            extracted = with_pattern_relations(extracted, turns, speaker)
        links = links_by_name(texts, extracted.mentions, speaker)
        texts |= {record.id: record.memory for record in plan.unchanged}  # facts already known count too
        return draft_graph(
            ctx.store, ctx.embedder, draft.scope, draft.created_at, extracted.mentions, links, extracted.triples, texts
        )
    docs = entity_recogniser().parse([record.memory for record in written]) if written else []
    mentions: list[Mention] = []
    links = {}
    triples: list[Triple] = []
    for record, doc in zip(written, docs, strict=True):
        speaker_mention = [Mention(record.actor_id, "person")] if record.actor_id else []
        names = speaker_mention + names_in(doc)
        if record.role == "user":  # "I" in an assistant's message is the assistant
            found = read_relations(doc, record.actor_id or speaker)
            triples += found
            names += endpoint_mentions(found)
        mentions += names
        links[record.id] = [m.key for m in names]
    return draft_graph(ctx.store, ctx.embedder, draft.scope, draft.created_at, mentions, links, triples, texts)


def with_pattern_relations(
    extracted: GraphExtraction, turns: Sequence[Message], speaker: str | None
) -> GraphExtraction:
    """The extraction with the relations the user's messages state, read by the offline patterns."""
    said = [turn for turn in turns if turn.role == "user" and turn.content]
    if not said:
        return extracted
    triples: list[Triple] = []
    for turn, doc in zip(said, entity_recogniser().parse([turn.content for turn in said]), strict=True):
        triples += read_relations(doc, turn.name or speaker)
    known = {mention.key for mention in extracted.mentions}
    mentions = extracted.mentions + [m for m in endpoint_mentions(triples) if m.key not in known]
    return GraphExtraction(list({m.key: m for m in mentions}.values()), list(dict.fromkeys(triples)))


def endpoint_mentions(triples: Sequence[Triple]) -> list[Mention]:
    """The entities relations name, each once."""
    return list({normalise_name(n): Mention(n) for t in triples for n in (t.source, t.destination)}.values())


def draft_graph(
    store: Store,
    embedder: Embedder,
    owner: Scope,
    when: datetime,
    mentions: Sequence[Mention],
    links: Mapping[str, Sequence[str]],
    triples: Sequence[Triple] = (),
    texts: Mapping[str, str] | None = None,
) -> GraphDraft:
    """Embed the names not yet known to the owner by their normalised name (one embedding call), and
    tell which relationships hold one value at a time (``slots.py``: as a memory's attribute would)."""
    unique = list({m.key: m for m in mentions if m.key}.values())
    known = {entity.key for entity, _ in store.graph.owner_entities(owner.owner_only())}
    unknown = [m for m in unique if m.key not in known]
    vectors: dict[str, Vector] = {}
    if unknown:
        embedded = embedder.embed_batch([m.name for m in unknown], purpose="document")
        vectors = {m.key: embedded[i] for i, m in enumerate(unknown)}
    return GraphDraft(
        owner.owner_only(),
        when,
        unique,
        vectors,
        {memory_id: list(keys) for memory_id, keys in links.items()},
        list(triples),
        dict(texts or {}),
        {t.relationship for t in triples if attribute_index(embedder).holds_one_value(t.relationship)},
    )


def write_graph(
    store: Store,
    draft: GraphDraft,
    written: set[str],
    settings: GraphSettings,
    episodes_of: Mapping[str, Sequence[str]] | None = None,
) -> RelationChanges:
    """Inside the add's transaction: resolve and save entities, link the memories (``written``: the
    ids that exist once the add commits), add the relations and retire the ones they contradict.
    ``episodes_of`` maps a memory id to the episodes it came from (a relation records those of its
    memories). Returns mem0's ``relations`` block of an add."""
    graph = store.graph
    resolution = resolve_entities(
        draft.mentions,
        graph.owner_entities(draft.owner),
        draft.vectors,
        owner=draft.owner,
        now=draft.when,
        threshold=settings.threshold,
    )
    stored = graph.save_entities(resolution.new)
    entity_of = {key: stored.get(entity.key, entity) for key, entity in resolution.by_key.items()}
    graph.link_memories(
        [
            (memory_id, entity_of[key].id)
            for memory_id, keys in draft.links.items()
            if memory_id in written
            for key in dict.fromkeys(keys)
            if key in entity_of
        ]
    )
    new = _new_relations(draft, entity_of, written, episodes_of or {})
    if not new:
        return {"added_entities": [], "deleted_entities": []}
    current = graph.current_relations(draft.owner, list({r.source_id for r in new}))
    retired, fresh = invalidate_contradicted(current, new, draft.when, draft.one_value.__contains__)
    graph.insert_relations(fresh)
    graph.invalidate_relations(retired)
    names = {entity.id: entity.name for entity in entity_of.values()}
    return {
        "added_entities": [r.to_dict() for r in fresh],
        "deleted_entities": [
            {
                **r.to_dict(),
                "source": names.get(r.source_id, r.source),
                "destination": names.get(r.destination_id, r.destination),
            }
            for r in retired
        ],
    }


def _new_relations(
    draft: GraphDraft, entity_of: Mapping[str, Entity], written: set[str], episodes_of: Mapping[str, Sequence[str]]
) -> list[Relation]:
    """The draft's triples between two known, distinct entities, each attributed to the written
    memories that name its destination (or, when none does, to all of them)."""
    texts = {memory_id: text for memory_id, text in draft.texts.items() if memory_id in written}
    created = utcnow()
    new: list[Relation] = []
    for triple in draft.triples:
        source = entity_of.get(normalise_name(triple.source))
        destination = entity_of.get(normalise_name(triple.destination))
        if source is None or destination is None or source.id == destination.id:
            continue
        sources = memories_mentioning([triple.destination], texts) or list(texts)
        new.append(
            Relation(
                id=str(uuid.uuid4()),
                source_id=source.id,
                relationship=triple.relationship,
                destination_id=destination.id,
                owner=draft.owner,
                valid_from=draft.when,
                created_at=created,
                memory_ids=tuple(sources),
                episode_ids=tuple(dict.fromkeys(e for m in sources for e in episodes_of.get(m, ()))),
                source=source.name,
                destination=destination.name,
            )
        )
    return new


def links_by_name(
    memory_texts: Mapping[str, str], mentions: Sequence[Mention], self_name: str | None
) -> dict[str, list[str]]:
    """For each memory, the keys of the mentioned entities its text names ("User" counts as the
    speaker's own name)."""
    links: dict[str, list[str]] = {}
    for memory_id, text in memory_texts.items():
        keys = [m.key for m in mentions if _names(text, m.name)]
        if self_name and re.search(r"\buser\b", text, re.IGNORECASE):
            keys.append(normalise_name(self_name))
        links[memory_id] = list(dict.fromkeys(keys))
    return links


def _names(text: str, name: str) -> bool:
    return re.search(r"\b" + re.escape(name) + r"\b", text, re.IGNORECASE) is not None
