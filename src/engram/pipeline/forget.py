"""Forget, a step of add: what the user asked to forget, and the memories it retracts.

A request comes from the model (``"forget"`` in its answer) or, in case it missed one, from the
user's own words (``forget_requests_in``). The model's requests count only when the user's words
ask to forget something (``asks_to_forget``): unasked, a small model retracted 77 of 79 memories of
a LoCoMo chat. Each request is matched against the scope's current memories the way the subject
test matches an UPDATE (``forget_matrix``, threshold from ``bench/bench_subject_test.py --forget``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engram.embedders.base import Embedder, Vectors
from engram.messages import Message
from engram.models import MemoryRecord, utcnow
from engram.pipeline.extract import ForgetRequest
from engram.pipeline.guards import subject_text
from engram.pipeline.plan import Context, Draft, Fact, WritePlan
from engram.pipeline.sources import content_words
from engram.privacy.sources import Source
from engram.storage.base import Query

# A memory matches a forget request when, with "User" and the user's own names taken out of both,
# - the memory holds every content word of the request and their embeddings are at least
#   FORGET_WITH_ITS_WORDS apart ("the Sentry key" / "Jonas's Sentry DSN key is 7f3a…"), or
# - their embeddings alone are at least FORGET_ALONE apart, or
# - the request names what the memory is about: it is at least FORGET_ABOUT from the memory's
#   subject and attribute ("Maya's passport number" / "Maya: passport number").
# Chosen by 5-fold cross-validation on bench/data/forget_pairs.json (bench/bench_forget.py) for at
# most 5% false matches held out: a wrong match hides a fact that is still true.
FORGET_WITH_ITS_WORDS = 0.35
FORGET_ALONE = 0.7
FORGET_ABOUT = 0.8
# A memory the model named for a forget request (by the number it was shown under) is retracted when
# the request is at least this close to its text or to what it is about: enough to refuse an id a
# small model picked at random, never a right one (bench/bench_forget.py).
FORGET_NAMED = 0.3
FORGET_CANDIDATES = 10  # memories compared with each forget request
_ASKING = re.compile(
    r"\b(?:everything|anything|all|what i (?:said|told you)|the info|the details)\s+(?:about|on)\b", re.I
)
_PRONOUNS = re.compile(r"\b(?:my|mine|me|i|i'm|i've)\b", re.IGNORECASE)


@dataclass
class Forgetting:
    """What an add forgets: the memories to retract, and which of its new facts may be kept."""

    targets: list[MemoryRecord] = field(default_factory=list)
    keep: list[bool] = field(default_factory=list)  # per fact: False when it matches a request
    warnings: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # what the user asked to forget
    names: list[str] = field(default_factory=list)  # the user's own names, taken out when matching

    def allows(self, ctx: Context, texts: Sequence[str]) -> list[bool]:
        """For each text, whether it may be stored: it is not about what the user asked to forget."""
        if not self.requests or not texts:
            return [True] * len(texts)
        matched = forget_matches(ctx.embedder, self.requests, [Said(t) for t in texts], self.names)
        return [not any(row[j] for row in matched) for j in range(len(texts))]


def find_forgotten(
    ctx: Context,
    spoken: Sequence[Message],
    model_requests: Sequence[ForgetRequest],
    facts: Sequence[Fact],
    draft: Draft,
    shown: Sequence[MemoryRecord] = (),
) -> Forgetting:
    """The memories the user asked to forget, and the new facts that may be kept."""
    said_by_user = [turn.content for turn in spoken if turn.source == Source.USER]  # not a pasted document
    asked = asks_to_forget(said_by_user)
    warnings = []
    if model_requests and not asked:
        warnings.append(f"ignored forget requests no message asked for: {[r.what for r in model_requests]}")
    heeded = list(model_requests) if asked else []
    requests = list(dict.fromkeys([*(r.what for r in heeded), *forget_requests_in(said_by_user)]))
    if not requests:
        return Forgetting([], [True] * len(facts), warnings)
    names = [n for n in (draft.scope.user_id, *(t.name for t in spoken if t.source == Source.USER)) if n]
    candidates = _candidates(ctx, requests, names, draft)
    matched = forget_matches(
        ctx.embedder, requests, [Said(r.memory, r.subject, r.attribute) for r in candidates], names
    )
    targets = {r.id: r for j, r in enumerate(candidates) if any(row[j] for row in matched)}
    targets |= {r.id: r for r in _named(ctx, heeded, shown, names)}
    fact_matched = forget_matches(ctx.embedder, requests, [Said(f.text, f.subject, f.attribute) for f in facts], names)
    keep = [not any(row[i] for row in fact_matched) for i in range(len(facts))]
    return Forgetting(list(targets.values()), keep, warnings, requests, names)


def _candidates(ctx: Context, requests: Sequence[str], names: Sequence[str], draft: Draft) -> list[MemoryRecord]:
    """The scope's current memories nearest each request, by meaning and by words (a request that
    names a person finds what mentions them, near in meaning or not)."""
    query = Query(draft.scope.owner_only(), None, utcnow())
    asked = [without_names(r, names) for r in requests]
    vectors = ctx.embedder.embed_batch(asked, purpose="query")
    found = [m for v in vectors for m, _ in ctx.store.vector_search(query, v, FORGET_CANDIDATES)]
    found += [m for a in asked for m, _ in ctx.store.keyword_search(query, a, FORGET_CANDIDATES)]
    ids = list(dict.fromkeys(found))
    records = ctx.store.get_memories(ids)
    return [records[m] for m in ids if m in records and records[m].invalid_at is None]


def _named(
    ctx: Context, requests: Sequence[ForgetRequest], shown: Sequence[MemoryRecord], names: Sequence[str]
) -> list[MemoryRecord]:
    """The shown memories the model named for a forget request, when they are at least loosely about
    what it asks (``FORGET_NAMED``): a capable model names the memory the user means; a small one may
    name any number, and must not retract an unrelated memory by it."""
    pairs = [(r.what, shown[r.memory]) for r in requests if r.memory is not None and 0 <= r.memory < len(shown)]
    if not pairs:
        return []
    asked = [without_names(what, names) for what, _ in pairs]
    texts = [without_names(record.memory, names) for _, record in pairs]
    abouts = [
        without_names(f"{r.subject or ''} {r.attribute}", names) if r.attribute else t
        for (_, r), t in zip(pairs, texts, strict=True)
    ]
    requests_v = ctx.embedder.embed_batch(asked, purpose="query")
    by_text = (requests_v * ctx.embedder.embed_batch(texts, purpose="document")).sum(axis=1)
    by_about = (requests_v * ctx.embedder.embed_batch(abouts, purpose="document")).sum(axis=1)
    return [record for (_, record), t, a in zip(pairs, by_text, by_about, strict=True) if max(t, a) >= FORGET_NAMED]


def retract(plan: WritePlan, targets: Sequence[MemoryRecord]) -> None:
    """Retract what the user asked to forget, whatever else the plan did to it."""
    ids = {r.id for r in targets}
    plan.updates = [(old, new, vector) for old, new, vector in plan.updates if old.id not in ids]
    plan.unchanged = [r for r in plan.unchanged if r.id not in ids]
    already = {r.id for r in plan.deletes}
    plan.deletes += [r for r in targets if r.id not in already]
    plan.forgotten |= ids


def without_names(text: str, self_names: Sequence[str]) -> str:
    """The text as a forget request is compared: without "User", the user's own names (with their
    possessive) and "my" / "everything about": "Maya's dog" and "my dog" both become "dog", so that
    every other fact about Maya is not a near match just because it names her."""
    names = {part for name in self_names for part in re.split(r"[\s_\-]+", name.casefold()) if len(part) > 1}
    words = []
    for word in subject_text(_PRONOUNS.sub(" ", _ASKING.sub(" ", text))).split():
        bare = re.sub(r"(?:'s|’s|'|’)$", "", word).strip(".,;:!?").casefold()
        if bare not in names:
            words.append(word)
    return " ".join(words) or text


@dataclass(frozen=True)
class Said:
    """A memory or a new fact as a forget request is matched against it."""

    text: str
    subject: str | None = None
    attribute: str | None = None

    def about(self) -> str | None:
        return f"{self.subject or ''} {self.attribute}".strip() if self.attribute else None


def said_of(record: MemoryRecord) -> Said:
    return Said(record.memory, record.subject, record.attribute)


def forget_matches(
    embedder: Embedder, requests: Sequence[str], said: Sequence[Said], self_names: Sequence[str] = ()
) -> list[list[bool]]:
    """``[i][j]``: whether ``said[j]`` is about what forget request ``i`` names."""
    if not requests or not said:
        return [[False] * len(said) for _ in requests]
    asked = [without_names(r, self_names) for r in requests]
    texts = [without_names(s.text, self_names) for s in said]
    abouts = [without_names(about, self_names) if (about := s.about()) else "" for s in said]
    by_text = forget_matrix(embedder, asked, texts)
    by_about = forget_matrix(embedder, asked, [a or t for a, t in zip(abouts, texts, strict=True)])
    words = [content_words(t) for t in texts]
    return [
        [
            bool(
                by_text[i, j] >= FORGET_ALONE
                or mentions(said[j].text, named_only(request))  # "everything about Marco": what names Marco
                or (by_text[i, j] >= FORGET_WITH_ITS_WORDS and holds_every_word(request, words[j]))
                or (abouts[j] and by_about[i, j] >= FORGET_ABOUT)
            )
            for j in range(len(said))
        ]
        for i, request in enumerate(asked)
    ]


# Words that say "what I told you about it" rather than what it is: "my card details" is the card.
_GENERIC = frozenset({"detai", "info", "infor", "data", "stuff", "thing", "notes", "recor", "memor", "figur", "amoun"})


def holds_every_word(request: str, words: set[str]) -> bool:
    asked = content_words(request) - _GENERIC
    return bool(asked) and asked <= words


def named_only(request: str) -> set[str]:
    """The request's words when it only names someone or something ("Marco", "Hana's"), else none."""
    words = [w.strip(".,;:!?'’") for w in request.split()]
    words = [w.removesuffix("'s").removesuffix("’s") for w in words if w]
    named = [w for w in words if w[:1].isupper() and w.lower() not in {"user", "the", "a", "an"}]
    return {w.casefold() for w in named} if named and len(named) == len(words) else set()


def mentions(text: str, names: set[str]) -> bool:
    found = {w.strip(".,;:!?'’").removesuffix("'s").removesuffix("’s").casefold() for w in text.split()}
    return bool(names) and names <= found


def forget_matrix(embedder: Embedder, requests: Sequence[str], texts: Sequence[str]) -> Vectors:
    """``[i, j]``: the cosine of forget request ``i`` and memory text ``j`` (as given)."""
    if not requests or not texts:
        return np.zeros((len(requests), len(texts)), dtype=np.float32)
    request_vectors = embedder.embed_batch(list(requests), purpose="query")
    text_vectors = embedder.embed_batch(list(texts), purpose="document")
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
NEGATION_REACH = 32  # characters before a verb read for its negation: the longest negation and its gap


def asks_to_forget(texts: Sequence[str]) -> bool:
    """Whether the user's own words ask for something to be forgotten. A model's forget requests
    count only then: a small model that lists a forget request unasked would otherwise retract
    whatever matches it (on a LoCoMo chat, the 0.5B model retracted 77 of 79 memories so)."""
    for text in texts:
        if _DO_NOT_KEEP.search(text):
            return True
        # Only the few characters before each verb can negate it: reading the whole prefix for every
        # verb made the check quadratic ("not forget " * 4000 took seconds).
        if any(
            not _NEGATION.search(text[max(0, m.start() - NEGATION_REACH) : m.start()])
            for m in _FORGET_VERB.finditer(text)
        ):
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


__all__ = [
    "FORGET_ABOUT",
    "FORGET_ALONE",
    "FORGET_NAMED",
    "FORGET_WITH_ITS_WORDS",
    "Forgetting",
    "Said",
    "asks_to_forget",
    "find_forgotten",
    "forget_matches",
    "forget_matrix",
    "forget_requests_in",
    "holds_every_word",
    "mentions",
    "named_only",
    "retract",
    "without_names",
]
