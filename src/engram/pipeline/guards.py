"""Checks in code on what a (possibly small) LLM decided, so that a misjudgement costs a
missed fact, never a destroyed one.

- **Subject test**: an UPDATE replaces a memory's text, so it must stay on the memory's
  subject. It passes when the old and new texts are close in meaning (cosine of their
  embeddings, with the generic "User" taken out: it is in almost every memory and makes
  unrelated facts about the user look alike) and the new text is not about another person
  (a relation word such as "sister" or "manager" in one and not the other, with no shared
  name). Threshold and error rates: ``bench/bench_subject_test.py`` on hand-labelled pairs.
- **Forget targets**: what the user asked to forget is matched against stored memories
  the same way (``bench/bench_subject_test.py --forget``).
- **Sources**: a fact's sources are the few messages that share words with it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from engram.embedders.base import Embedder, Vectors

# Chosen by 5-fold cross-validation on bench/data/subject_pairs.json (bench/bench_subject_test.py).
SUBJECT_THRESHOLD = 0.27
# Chosen the same way on bench/data/forget_pairs.json.
FORGET_THRESHOLD = 0.35
MAX_SOURCES = 3  # messages a fact may cite; a fact drawn from more is a summary, not a citation

RELATION_WORDS = frozenset(
    """sister brother mother father mom mum dad parent parents son daughter wife husband partner
    boyfriend girlfriend fiance fiancee fiancé fiancée friend cousin aunt uncle niece nephew
    grandmother grandfather grandma grandpa neighbour neighbor roommate flatmate colleague coworker
    manager boss child children kid kids baby""".split()
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_USER = re.compile(r"\bUser(?:'s|’s)?\b")
_STOPWORDS = frozenset(
    """a an the and or but of to in on at for with from by about as is are was were be been being
    has have had do does did not no it its this that these those there their they them he she his
    her him i me my we our you your user users s will would can could should just also very so
    than then now still again any some all more most""".split()
)


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


def forget_matrix(embedder: Embedder, requests: Sequence[str], texts: Sequence[str]) -> Vectors:
    """``[i, j]``: how closely memory text ``j`` matches forget request ``i`` (cosine, without
    "User"). Compare with ``FORGET_THRESHOLD``."""
    if not requests or not texts:
        return np.zeros((len(requests), len(texts)), dtype=np.float32)
    request_vectors = embedder.embed_batch([subject_text(r) for r in requests], purpose="query")
    text_vectors = embedder.embed_batch([subject_text(t) for t in texts], purpose="document")
    scores: Vectors = (request_vectors @ text_vectors.T).astype(np.float32)
    return scores


# "please forget my passport number", "delete what I said about Tom": what follows the verb is
# what to forget. "Don't forget to ..." and "forget it" are reminders or dismissals, not requests.
_FORGET_REQUEST = re.compile(
    r"(?<!n't )(?<!not )\b(?:forget|delete|erase|remove|wipe)\s+(?!to\b|it\b|that\b\s*[.!?]|about it\b)"
    r"(?:(?:about|everything about|what i (?:said|told you) about|all)\s+)?(?P<what>[^.!?\n]{3,80})",
    re.IGNORECASE,
)


# Words by which a user asks to be forgotten; a negation just before the verb ("I'll never forget",
# "don't forget to ...") is no such request. Broader than _FORGET_REQUEST: this only gates the model.
_FORGET_VERB = re.compile(r"\b(?:forget|delete|erase|remove|wipe|purge|scrap|discard|unlearn)\b", re.IGNORECASE)
_DO_NOT_KEEP = re.compile(
    r"\b(?:don't|do not|dont|no need to|stop|quit)\s+(?:remember|keep|stor|sav|track)(?:e|ing)?\b"
    r"|\brather not\b[^.!?]{0,30}\b(?:stored|saved|kept|remembered)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|never|no|don't|dont|won't|wont|can't|cannot|didn't|doesn't)\b[^.!?,]{0,15}$", re.I)


def asks_to_forget(texts: Sequence[str]) -> bool:
    """Whether the user's own words ask for something to be forgotten. A model's forget requests
    count only then: a small model that lists a forget request unasked would otherwise retract
    whatever matches it (on a LoCoMo chat, the 0.5B model retracted 77 of 79 memories so)."""
    for text in texts:
        if _DO_NOT_KEEP.search(text):
            return True
        if any(not _NEGATION.search(text[: m.start()]) for m in _FORGET_VERB.finditer(text)):
            return True
    return False


def forget_requests_in(texts: Sequence[str]) -> list[str]:
    """What the user's own words ask to forget, found without the LLM: a small model often
    misses the request, and a missed request leaves the fact current."""
    found = []
    for text in texts:
        for match in _FORGET_REQUEST.finditer(text):
            what = re.split(r"[,;:]|\b(?:but|because|since|so|please|thanks)\b", match["what"], maxsplit=1)[0]
            found += [part.strip() for part in re.split(r"\band\b", what) if content_words(part)]
    return found


def content_words(text: str) -> set[str]:
    """Lower-cased words that carry content, cut to 5 letters so "moved"/"moving" meet."""
    return {w.lower()[:5] for w in _WORD.findall(text) if w.lower() not in _STOPWORDS and len(w) > 2}


def verified_sources(fact: str, cited: Sequence[int], messages: Sequence[str]) -> tuple[int, ...]:
    """The messages a fact really came from: of those the LLM cited (all, when it cited none or
    none of those it cited shares a word with the fact), the at most ``MAX_SOURCES`` sharing the
    most content words with the fact. Empty when no message does: the fact was not said."""
    words = content_words(fact)
    candidates = list(dict.fromkeys(cited)) or list(range(len(messages)))
    overlap = {i: len(words & content_words(messages[i])) for i in candidates if 0 <= i < len(messages)}
    ranked = sorted((i for i, shared in overlap.items() if shared), key=lambda i: (-overlap[i], i))
    if not ranked and cited:  # the model cited the wrong messages: look at all of them
        return verified_sources(fact, (), messages)
    return tuple(sorted(ranked[:MAX_SOURCES]))


__all__ = [
    "FORGET_THRESHOLD",
    "MAX_SOURCES",
    "SUBJECT_THRESHOLD",
    "about_another_person",
    "asks_to_forget",
    "content_words",
    "forget_matrix",
    "forget_requests_in",
    "subject_matrix",
    "subject_similarity",
    "subject_text",
    "verified_sources",
]
