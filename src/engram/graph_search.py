"""The graph's side of search (docs/graph.md): the entities a query names, the memories linked to them
and to their neighbours (1–2 hops), ranked for fusion with the dense and keyword rankings
(``search.hybrid_search``), and the relations around them that a search returns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from engram.graph_settings import GraphSettings
from engram.models import Entity, Relation, Scope
from engram.pipeline.entities import SELF_REFERENCES, normalise_name
from engram.results import RelationItem
from engram.storage.base import STOPWORDS, Query, Store

HOP_WEIGHTS = (1.0, 0.5, 0.25)  # an entity the query names, its neighbours, their neighbours
MAX_LINKED = 2_000  # memory links read per search: the newest, when a query names a very common entity
MAX_QUERY_NGRAM = 4  # longest name (in words) looked up in a query
MAX_RANKED = 10_000  # memories the graph ranks for one search


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


def query_relations(match: GraphMatch, *, limit: int) -> list[RelationItem]:
    """The relations walked for a query, scored by the hop weight of their nearer end, best first
    (newest first among equals). With 2 hops these are the relations within 1 hop of a named entity."""
    scored = [(max(match.weight(r.source_id), match.weight(r.destination_id)), r) for r in match.relations]
    scored.sort(key=lambda item: -item[0])
    return [relation.to_dict(score) for score, relation in scored[:limit]]


def scope_relations(store: Store, scope: Scope, *, limit: int, as_of: datetime | None = None) -> list[RelationItem]:
    """The scope's relations (current ones, or those valid at ``as_of``), newest first."""
    return [r.to_dict() for r in store.graph.list_relations(scope, as_of=as_of, limit=limit)]


__all__ = [
    "GraphMatch",
    "graph_candidates",
    "graph_for_search",
    "match_query",
    "query_relations",
    "scope_relations",
]


def graph_for_search(
    store: Store, settings: GraphSettings | None, query: Query, text: str
) -> tuple[GraphMatch | None, list[tuple[str, float]]]:
    """What the graph adds to a search: the match (its relations are returned beside the results;
    None when the graph is off) and its ranking of the scope's memories. At weight 0 (the default)
    the graph only finds the relations to return, and ranks nothing."""
    if settings is None:
        return None, []
    match = match_query(store, query.scope, text, settings.hops, query.as_of)
    if settings.weight <= 0:
        return match, []
    return match, graph_candidates(store, query, match, limit=MAX_RANKED)
