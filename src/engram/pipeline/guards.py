"""Guard, a step of add: checks in code on what a (possibly small) LLM decided, so that a
misjudgement costs a missed fact, never a destroyed one.

- **Subject test** (``same_subject``): an UPDATE replaces a memory's text, so it must stay on the
  memory's subject. It passes when the old and new texts are close in meaning (cosine of their
  embeddings, with the generic "User" taken out: it is in almost every memory and makes
  unrelated facts about the user look alike) and the new text is not about another person
  (a relation word such as "sister" or "manager" in one and not the other, with no shared
  name). Threshold and error rates: ``bench/bench_subject_test.py`` on hand-labelled pairs.
- **Said in its add** (``drop_unsaid``): a new fact must come from this add's messages.

Forget requests are matched the same way as the subject test (``forget.py``); sources are
verified in ``sources.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from engram.embedders.base import Embedder, Vectors
from engram.models import Event, MemoryRecord
from engram.pipeline.plan import Action, Fact

# Chosen by 5-fold cross-validation on bench/data/subject_pairs.json (bench/bench_subject_test.py).
SUBJECT_THRESHOLD = 0.27

RELATION_WORDS = frozenset(
    """sister brother mother father mom mum dad parent parents son daughter wife husband partner
    boyfriend girlfriend fiance fiancee fiancé fiancée friend cousin aunt uncle niece nephew
    grandmother grandfather grandma grandpa neighbour neighbor roommate flatmate colleague coworker
    manager boss child children kid kids baby""".split()
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_USER = re.compile(r"\bUser(?:'s|’s)?\b")


def subject_text(text: str) -> str:
    """The text as compared by the subject test: without the generic subject "User"."""
    return " ".join(_USER.sub(" ", text).split()) or text


def about_another_person(old: str, new: str) -> bool:
    """True when the two texts are about different people: their relation words differ and
    they share no name ("User lives in Lisbon" / "User's sister lives in Porto")."""
    old_relations, old_names = _people(old)
    new_relations, new_names = _people(new)
    if old_relations == new_relations or old_relations & new_relations:
        return False
    return not (old_names & new_names)


def _people(text: str) -> tuple[set[str], set[str]]:
    words = _WORD.findall(text)
    relations = {w.lower() for w in words if w.lower() in RELATION_WORDS}
    names = {w for w in words if w[0].isupper() and w not in ("User", "I")}
    return relations, names


def subject_matrix(embedder: Embedder, olds: Sequence[str], news: Sequence[str]) -> Vectors:
    """``[i, j]``: how much new text ``i`` is on the subject of old text ``j`` (-1 when it is
    about another person). Compare with ``SUBJECT_THRESHOLD``."""
    if not olds or not news:
        return np.zeros((len(news), len(olds)), dtype=np.float32)
    texts = list(dict.fromkeys(subject_text(t) for t in [*olds, *news]))
    vectors = embedder.embed_batch(texts, purpose="document")
    row = {text: vectors[i] for i, text in enumerate(texts)}
    old_vectors = np.stack([row[subject_text(t)] for t in olds])
    new_vectors = np.stack([row[subject_text(t)] for t in news])
    scores: Vectors = (new_vectors @ old_vectors.T).astype(np.float32)
    for i, new in enumerate(news):
        for j, old in enumerate(olds):
            if about_another_person(old, new):
                scores[i, j] = -1.0
    return scores


def subject_similarity(embedder: Embedder, olds: Sequence[str], news: Sequence[str]) -> list[float]:
    """The subject score of each (old, new) pair."""
    matrix = subject_matrix(embedder, list(dict.fromkeys(olds)), list(dict.fromkeys(news)))
    old_at = {t: j for j, t in enumerate(dict.fromkeys(olds))}
    new_at = {t: i for i, t in enumerate(dict.fromkeys(news))}
    return [float(matrix[new_at[new], old_at[old]]) for old, new in zip(olds, news, strict=True)]


def same_subject(embedder: Embedder, facts: Sequence[Fact], shown: Sequence[MemoryRecord]) -> list[set[int]]:
    """For each fact, the positions of the shown memories it may replace or retract: those on its subject."""
    scores = subject_matrix(embedder, [r.memory for r in shown], [f.text for f in facts])
    return [{j for j in range(len(shown)) if scores[i, j] >= SUBJECT_THRESHOLD} for i in range(len(facts))]


def drop_unsaid(actions: Sequence[Action]) -> tuple[list[Action], list[str]]:
    """The actions minus each ADD or UPDATE of a fact that no message of this add says (``sources``):
    taken from the memories shown or made up, a retracted fact would otherwise come back, and a
    copied example would overwrite a true memory."""
    unsaid = [a for a in actions if a.event in (Event.ADD, Event.UPDATE) and a.fact is not None and not a.fact.sources]
    warnings = [f"dropped a fact no message of this add says: {a.fact.text!r}" for a in unsaid if a.fact]
    return [a for a in actions if a not in unsaid], warnings


__all__ = [
    "SUBJECT_THRESHOLD",
    "about_another_person",
    "drop_unsaid",
    "same_subject",
    "subject_matrix",
    "subject_similarity",
    "subject_text",
]
