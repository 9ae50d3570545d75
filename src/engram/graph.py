"""Graph memory in the memory store (DESIGN.md section 1c): configuration, the graph part of an
add's write, and the graph's side of search.

An add drafts its graph change before the transaction opens (``draft_graph``: entity names are
embedded then) and writes it inside the memories' transaction (``write_graph``), so a memory
and its entities and relations commit together. Search asks ``graph_candidates`` for the memories
linked to the entities a query names and to their neighbours (1–2 hops), ranked, and fuses them
with the dense and keyword rankings; ``query_relations`` gives the relations around them.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engram.embedders import Embedder
from engram.errors import ConfigError
from engram.models import Entity, Relation, Scope, utcnow
from engram.pipeline.graph import (
    DEFAULT_ENTITY_THRESHOLD,
    SELF_REFERENCES,
    Mention,
    Triple,
    invalidate_contradicted,
    memories_mentioning,
    normalise_name,
    resolve_entities,
)
from engram.search import GRAPH_WEIGHT
from engram.storage.base import STOPWORDS, Query, Store, Vector

BUILT_IN_PROVIDERS = {"sqlite": ("sqlite", "sqlite3", "local"), "postgres": ("postgres", "postgresql", "pgvector")}
HOP_WEIGHTS = (1.0, 0.5, 0.25)  # an entity the query names, its neighbours, their neighbours
DEFAULT_HOPS = 2
MAX_LINKED = 2_000  # memory links read per search: the newest, when a query names a very common entity
MAX_QUERY_NGRAM = 4  # longest name (in words) looked up in a query


@dataclass(frozen=True)
class GraphSettings:
    """``graph_store`` of the config: the graph lives in the memory store itself."""

    threshold: float = DEFAULT_ENTITY_THRESHOLD  # name-embedding similarity that merges two entities
    hops: int = DEFAULT_HOPS
    weight: float = GRAPH_WEIGHT  # of the graph's ranking in search's fusion


def graph_settings(raw: Mapping[str, Any] | None, backend: str) -> GraphSettings | None:
    """Validate ``graph_store``; ``backend`` is the memory store's ("sqlite" or "postgres")."""
    if not raw:
        return None
    settings = dict(raw)
    provider = str(settings.pop("provider", backend)).lower()
    if not any(provider in names for names in BUILT_IN_PROVIDERS.values()):
        raise ConfigError(
            f"graph_store provider {provider!r} is not supported: engram keeps the graph in its own store "
            f'(the built-in graph), so no graph database is needed. Use {{"provider": "{backend}"}}.'
        )
    if provider not in BUILT_IN_PROVIDERS[backend]:
        raise ConfigError(
            f"graph_store provider {provider!r} names another backend than the memory store's: the graph "
            f'lives in the same database as the memories. Use {{"provider": "{backend}"}}.'
        )
    options = dict(settings.pop("config", None) or {})
    if "threshold" in settings:
        options.setdefault("threshold", settings.pop("threshold"))
    if settings:
        raise ConfigError(
            f"unknown graph_store settings: {', '.join(sorted(settings))} (the graph is extracted by the "
            "same LLM call as the facts; known: provider, config.threshold, config.hops, config.weight)"
        )
    threshold = options.pop("threshold", DEFAULT_ENTITY_THRESHOLD)
    hops = options.pop("hops", DEFAULT_HOPS)
    weight = options.pop("weight", GRAPH_WEIGHT)
    if options:
        raise ConfigError(
            f"unknown graph_store.config settings: {', '.join(sorted(options))}; known: threshold, hops, weight"
        )
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold <= 1:
        raise ConfigError(f"graph_store threshold must be a number in (0, 1], got {threshold!r}")
    if isinstance(hops, bool) or hops not in (0, 1, 2):
        raise ConfigError(f"graph_store hops must be 0, 1 or 2, got {hops!r}")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
        raise ConfigError(f"graph_store weight must be a number in [0, 1], got {weight!r}")
    return GraphSettings(float(threshold), int(hops), float(weight))


# -- add: draft before the transaction, write inside it ------------------------------------------


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
    """Embed the names not yet known to the owner by their normalised name (one embedding call)."""
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
    )


def write_graph(
    store: Store,
    draft: GraphDraft,
    written: set[str],
    settings: GraphSettings,
    episodes_of: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Inside the add's transaction: resolve and save entities, link the written memories, add the
    relations and retire the ones they contradict. ``episodes_of`` maps a memory id to the
    episodes it came from (a relation records those of its memories). Returns mem0's
    ``relations`` block of an add."""
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
    texts = {memory_id: text for memory_id, text in draft.texts.items() if memory_id in written}
    created = utcnow()
    new: list[Relation] = []
    for triple in draft.triples:
        source, destination = (
            entity_of.get(normalise_name(triple.source)),
            entity_of.get(normalise_name(triple.destination)),
        )
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
                episode_ids=tuple(dict.fromkeys(e for m in sources for e in (episodes_of or {}).get(m, ()))),
                source=source.name,
                destination=destination.name,
            )
        )
    if not new:
        return {"added_entities": [], "deleted_entities": []}
    current = graph.current_relations(draft.owner, list({r.source_id for r in new}))
    retired, fresh = invalidate_contradicted(current, new, draft.when)
    graph.insert_relations(fresh)
    graph.invalidate_relations(retired)
    names = {entity.id: entity.name for entity in entity_of.values()}
    return {
        "added_entities": [r.to_dict() for r in fresh],
        "deleted_entities": [
            {**r.to_dict(), "source": names.get(r.source_id, r.source), "destination": names.get(r.destination_id)}
            for r in retired
        ],
    }


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


# -- search -------------------------------------------------------------------------------------------


def query_entities(store: Store, scope: Scope, text: str) -> list[Entity]:
    """The scope's entities whose name the query contains (as a run of up to 4 words); "I", "my"
    and "me" name the scope's user."""
    words = normalise_name(text).split()
    keys: set[str] = set()
    for size in range(1, MAX_QUERY_NGRAM + 1):
        for start in range(len(words) - size + 1):
            gram = words[start : start + size]
            if not all(word in STOPWORDS for word in gram):
                keys.add(" ".join(gram))
    if scope.user_id and SELF_REFERENCES & set(words):
        keys.add(normalise_name(scope.user_id))
    return store.graph.find_entities(scope, sorted(keys))


@dataclass(frozen=True)
class GraphMatch:
    """What the graph knows about a query: the entities reached, how many hops from one the query
    names, and the relations walked to reach them."""

    distance: dict[str, int]
    relations: list[Relation]

    def weight(self, entity_id: str) -> float:
        return HOP_WEIGHTS[self.distance[entity_id]] if entity_id in self.distance else 0.0


def reach(store: Store, scope: Scope, seeds: Sequence[Entity], hops: int, as_of: datetime | None) -> GraphMatch:
    """Walk ``hops`` steps from the seeds along relations valid at ``as_of``, either way."""
    distance = {entity.id: 0 for entity in seeds}
    walked: dict[str, Relation] = {}
    frontier = list(distance)
    for hop in range(1, hops + 1):
        if not frontier:
            break
        found = []
        for relation in store.graph.relations_touching(scope, frontier, as_of):
            walked.setdefault(relation.id, relation)
            for entity_id in (relation.source_id, relation.destination_id):
                if entity_id not in distance:
                    distance[entity_id] = hop
                    found.append(entity_id)
        frontier = found
    return GraphMatch(distance, list(walked.values()))


def match_query(store: Store, scope: Scope, text: str, hops: int, as_of: datetime | None = None) -> GraphMatch:
    seeds = query_entities(store, scope, text)
    return reach(store, scope, seeds, hops, as_of) if seeds else GraphMatch({}, [])


def graph_candidates(store: Store, query: Query, match: GraphMatch, *, limit: int) -> list[tuple[str, float]]:
    """Memory ids ranked by the graph, best first, scores in [0, 1].

    A memory scores the sum, over the reached entities it is linked to, of the entity's hop
    weight times its inverse document frequency among the linked memories. An entity linked to
    nearly every candidate (the speaker of half the conversation) says little about which memory
    answers; a rare one (the place a question names) says much.
    """
    if not match.distance:
        return []
    links = store.graph.linked_memories(query, list(match.distance), MAX_LINKED)
    total = len({memory_id for memory_id, _ in links})
    frequency: dict[str, int] = {}
    for _, entity_id in links:
        frequency[entity_id] = frequency.get(entity_id, 0) + 1
    scores: dict[str, float] = {}
    for memory_id, entity_id in links:
        idf = math.log((1 + total) / frequency[entity_id])
        scores[memory_id] = scores.get(memory_id, 0.0) + match.weight(entity_id) * idf
    best = max(scores.values(), default=0.0)
    if best <= 0:
        return []
    ranked = sorted(((m, s / best) for m, s in scores.items() if s > 0), key=lambda item: (-item[1], item[0]))
    return ranked[:limit]


def query_relations(match: GraphMatch, *, limit: int) -> list[dict[str, Any]]:
    """The relations walked for a query, scored by the hop weight of their nearer end, best first
    (newest first among equals). With 2 hops these are the relations within 1 hop of a named entity."""
    scored = [(max(match.weight(r.source_id), match.weight(r.destination_id)), r) for r in match.relations]
    scored.sort(key=lambda item: -item[0])
    return [relation.to_dict(score) for score, relation in scored[:limit]]


def scope_relations(store: Store, scope: Scope, *, limit: int, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """The scope's relations (current ones, or those valid at ``as_of``), newest first."""
    return [r.to_dict() for r in store.graph.list_relations(scope, as_of=as_of, limit=limit)]
