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
from engram.pipeline.guards import subject_text
from engram.pipeline.plan import Context, Draft, Fact, WritePlan
from engram.pipeline.sources import content_words
from engram.storage.base import Query

# Chosen by 5-fold cross-validation on bench/data/forget_pairs.json (bench/bench_subject_test.py).
FORGET_THRESHOLD = 0.35
FORGET_CANDIDATES = 10  # memories compared with each forget request


@dataclass
class Forgetting:
    """What an add forgets: the memories to retract, and which of its new facts may be kept."""

    targets: list[MemoryRecord] = field(default_factory=list)
    keep: list[bool] = field(default_factory=list)  # per fact: False when it matches a request
    warnings: list[str] = field(default_factory=list)


def find_forgotten(
    ctx: Context, spoken: Sequence[Message], model_requests: Sequence[str], facts: Sequence[Fact], draft: Draft
) -> Forgetting:
    """The memories the user asked to forget, and the new facts that may be kept."""
    said_by_user = [turn.content for turn in spoken if turn.role == "user"]
    asked = asks_to_forget(said_by_user)
    warnings = []
    if model_requests and not asked:
        warnings.append(f"ignored forget requests no message asked for: {list(model_requests)}")
    requests = list(dict.fromkeys([*(model_requests if asked else []), *forget_requests_in(said_by_user)]))
    if not requests:
        return Forgetting([], [True] * len(facts), warnings)
    query = Query(draft.scope.owner_only(), None, utcnow())
    vectors = ctx.embedder.embed_batch([subject_text(r) for r in requests], purpose="query")
    found = (m for v in vectors for m, _ in ctx.store.vector_search(query, v, FORGET_CANDIDATES))
    ids = list(dict.fromkeys(found))
    records = ctx.store.get_memories(ids)
    candidates = [records[m] for m in ids if m in records]
    scores = forget_matrix(ctx.embedder, requests, [r.memory for r in candidates])
    targets = [r for j, r in enumerate(candidates) if scores[:, j].max() >= FORGET_THRESHOLD]
    fact_scores = forget_matrix(ctx.embedder, requests, [f.text for f in facts])
    keep = [not facts or bool(fact_scores[:, i].max() < FORGET_THRESHOLD) for i in range(len(facts))]
    return Forgetting(targets, keep, warnings)


def retract(plan: WritePlan, targets: Sequence[MemoryRecord]) -> None:
    """Retract what the user asked to forget, whatever else the plan did to it."""
    ids = {r.id for r in targets}
    plan.updates = [(old, new, vector) for old, new, vector in plan.updates if old.id not in ids]
    plan.unchanged = [r for r in plan.unchanged if r.id not in ids]
    already = {r.id for r in plan.deletes}
    plan.deletes += [r for r in targets if r.id not in already]


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


__all__ = [
    "FORGET_THRESHOLD",
    "Forgetting",
    "asks_to_forget",
    "find_forgotten",
    "forget_matrix",
    "forget_requests_in",
    "retract",
]
