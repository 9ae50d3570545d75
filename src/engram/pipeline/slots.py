"""Same subject, same attribute: when a new fact replaces a stored one, whatever the model called it.

Each extracted fact names what it is about: a subject and an attribute ("Ana: employer"). A new fact
*supersedes* a current memory when

- their subjects are the same person or thing (``same_subject``: names compared without case,
  possessives and titles; "User", "I" and the scope's own user are one subject),
- their attributes mean the same (``AttributeIndex.same``: the same words, or embeddings at least
  ``SAME_ATTRIBUTE`` apart),
- and the attribute holds one value at a time (``AttributeIndex.holds_one_value``): where someone
  lives or works, a status, a date that moved. An attribute that holds many (hobbies, visits, likes,
  friends) takes the new value beside the old one.

Which kind an attribute is: the nearer of two lists of labelled example attributes
(``ONE_VALUE`` / ``MANY_VALUES``), by embedding. Thresholds and error rates come from the labelled
pairs of ``bench/data/supersede_pairs.json`` (``bench/bench_supersede.py``).

The graph uses the same notion: a relationship (``lives_in``, ``works_at``) is an attribute of its
source, so a relation is retired exactly when a memory about the same attribute would be superseded.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence

import numpy as np

from engram.embedders.base import Embedder, Vectors

# Chosen on bench/data/supersede_pairs.json by leave-one-fold-out cross-validation (bench/bench_supersede.py).
SAME_ATTRIBUTE = 0.625

ONE_VALUE = (
    "home city",
    "city of residence",
    "lives in",
    "address",
    "home address",
    "country of residence",
    "neighbourhood",
    "current home",
    "employer",
    "company",
    "workplace",
    "works at",
    "job title",
    "job",
    "occupation",
    "profession",
    "role at work",
    "manager",
    "boss",
    "team lead",
    "partner",
    "spouse",
    "relationship status",
    "marital status",
    "age",
    "birthday",
    "date of birth",
    "phone number",
    "email address",
    "mobile plan",
    "phone contract",
    "internet provider",
    "doctor",
    "gp",
    "dentist",
    "medication dose",
    "dosage",
    "diet",
    "car",
    "school",
    "university",
    "field of study",
    "salary",
    "rent",
    "home airport",
    "roommate",
    "landlord",
    "hosting provider",
    "web framework",
    "python version",
    "ci system",
    "code host",
    "personal best",
    "race time",
    "trip dates",
    "flight date",
    "wedding date",
    "appointment date",
    "deadline",
    "start date",
    "favourite food",
    "favourite colour",
    "favourite team",
    "morning drink",
    "exercise routine",
    "gym",
    "commute",
    "current project",
    "native language",
    "nationality",
    "weight",
    "height",
    "shoe size",
    "bedtime",
    "work schedule",
    "shift",
    "coach",
    "therapist",
)
MANY_VALUES = (
    "hobby",
    "hobbies",
    "interests",
    "likes",
    "dislikes",
    "allergy",
    "allergies",
    "visited places",
    "places visited",
    "travel",
    "trip",
    "friend",
    "friends",
    "sibling",
    "siblings",
    "child",
    "children",
    "pet",
    "pets",
    "skill",
    "skills",
    "languages spoken",
    "books read",
    "book",
    "movies",
    "sport",
    "sports",
    "instrument",
    "music taste",
    "event attended",
    "concert",
    "achievement",
    "goal",
    "plan",
    "plans",
    "project",
    "task",
    "reminder",
    "habit",
    "health condition",
    "injury",
    "symptom",
    "purchase",
    "possession",
    "restaurants visited",
    "recipe",
    "course",
    "certification",
    "colleague",
    "family member",
    "preference",
    "opinion",
    "memory",
    "experience",
    "relative",
    "neighbour",
)

_SELF = frozenset({"user", "i", "me", "myself", "the user", "speaker"})
_TITLE = re.compile(r"\b(?:mr|mrs|ms|miss|dr|prof)\.?\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"(?:'s|’s|')$")


def subject_key(subject: str | None, self_names: Iterable[str] = ()) -> str | None:
    """A subject as compared: "User", "I" and the user's own names are "user"; otherwise the name
    without case, possessive or title. None for no subject."""
    if not subject or not subject.strip():
        return None
    words = [_POSSESSIVE.sub("", word) for word in _TITLE.sub("", subject.strip().casefold()).split()]
    name = " ".join(word for word in words if word)
    selves = {" ".join(n.casefold().replace("-", " ").replace("_", " ").split()) for n in self_names if n}
    selves |= {part for full in selves for part in full.split() if len(part) > 2}
    return "user" if name in _SELF or name in selves else name


def named_one_value(attribute: str) -> bool:
    """Whether an attribute is one of the labelled examples that hold one value (no embedder needed)."""
    return _EXAMPLE_KIND.get(attribute_key(attribute), False)


def same_subject(a: str | None, b: str | None, self_names: Iterable[str] = ()) -> bool:
    """Whether two subjects are the same person or thing ("User" and the scope's user are one)."""
    names = list(self_names)
    key_a, key_b = subject_key(a, names), subject_key(b, names)
    return key_a is not None and key_a == key_b


def attribute_key(attribute: str) -> str:
    """An attribute or a relationship as compared: "lives_in" and "Lives in" are "lives in"."""
    return " ".join(attribute.replace("_", " ").casefold().split())


class AttributeIndex:
    """Embeddings of attributes (and the labelled examples), to compare them and to tell whether one
    holds one value at a time. One per embedder: the examples are embedded once."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        examples = [attribute_key(a) for a in (*ONE_VALUE, *MANY_VALUES)]
        self._examples = embedder.embed_batch(examples, purpose="document")
        self._one_value = np.array([True] * len(ONE_VALUE) + [False] * len(MANY_VALUES))
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def vectors(self, attributes: Sequence[str]) -> Vectors:
        keys = [attribute_key(a) for a in attributes]
        with self._lock:
            missing = [k for k in dict.fromkeys(keys) if k not in self._cache]
        if missing:
            fresh = self._embedder.embed_batch(missing, purpose="document")
            with self._lock:
                self._cache.update(zip(missing, fresh, strict=True))
        with self._lock:
            return np.stack([self._cache[k] for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)

    def similarity(self, a: str, b: str) -> float:
        if attribute_key(a) == attribute_key(b):
            return 1.0
        va, vb = self.vectors([a, b])
        return float(va @ vb)

    def same(self, a: str | None, b: str | None, threshold: float = SAME_ATTRIBUTE) -> bool:
        return bool(a and b) and self.similarity(a or "", b or "") >= threshold

    def holds_one_value(self, attribute: str) -> bool:
        """Whether the attribute holds one value at a time: its nearest labelled example says so."""
        key = attribute_key(attribute)
        if key in _EXAMPLE_KIND:
            return _EXAMPLE_KIND[key]
        scores = self._examples @ self.vectors([attribute])[0]
        return bool(self._one_value[int(np.argmax(scores))])


_EXAMPLE_KIND = {attribute_key(a): True for a in ONE_VALUE} | {attribute_key(a): False for a in MANY_VALUES}

_indexes: dict[int, AttributeIndex] = {}
_indexes_lock = threading.Lock()


def attribute_index(embedder: Embedder) -> AttributeIndex:
    """The process's index for this embedder, built on first use."""
    with _indexes_lock:
        index = _indexes.get(id(embedder))
        if index is None or index._embedder is not embedder:
            index = _indexes[id(embedder)] = AttributeIndex(embedder)
        return index


__all__ = [
    "MANY_VALUES",
    "ONE_VALUE",
    "SAME_ATTRIBUTE",
    "AttributeIndex",
    "attribute_index",
    "attribute_key",
    "named_one_value",
    "same_subject",
    "subject_key",
]
