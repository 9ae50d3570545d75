"""Coverage, a step of add: nothing a user says about themself is lost because the model skipped it.

A small model often extracts two facts from a session of four, and what it skipped was never
stored. Each sentence of the user's messages is checked against the facts extracted from the add:
a sentence that no fact covers (shares at least ``COVERED_WORDS`` content words with, or is at least
``COVERED_SIMILARITY`` from by embedding) and that says something about the user (in the first
person) (``INFORMATIVE_WORDS`` content words, not a question,
a request to the assistant or a thank-you) is kept as a memory of its own, as it was said: with the
``role`` of its message, like a memory stored with ``infer=False``. ``keep_uncovered`` in the config
turns it off.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engram.embedders.base import Embedder
from engram.messages import Message
from engram.pipeline.forget import asks_to_forget
from engram.pipeline.neighbours import sentences_of
from engram.pipeline.plan import Fact
from engram.pipeline.sources import content_words
from engram.privacy.sources import Source

COVERED_WORDS = 2  # content words a fact must share with a sentence to cover it
COVERED_SIMILARITY = 0.5  # or the cosine of their embeddings: "No longer eats steak" / "I don't eat steak anymore"
INFORMATIVE_WORDS = 4  # content words a sentence needs to be worth keeping on its own

# Requests to the assistant and chat, not facts: "can you…", "please…", "thanks", "any ideas?".
_NOT_A_FACT = re.compile(
    r"^\s*(?:can|could|would|will) you\b|^\s*(?:please|pls|thanks|thank you|ok|okay|great|perfect|cool|sure|yes|no)\b"
    r"|^\s*(?:remind|help|tell|show|give|find|write|draft|make|send|suggest|keep|let)\b|\?\s*$",
    re.IGNORECASE,
)


_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|me|my|mine|myself|we|we're|we've|us|our|ours)\b", re.IGNORECASE)


def uncovered(embedder: Embedder, spoken: Sequence[Message], facts: Sequence[Fact]) -> list[tuple[Message, str]]:
    """The user's informative sentences that no extracted fact covers, each with its message."""
    fact_words = [content_words(fact.text) for fact in facts]
    candidates = [
        (turn, sentence)
        for turn in spoken
        if turn.source == Source.USER  # the user's own words: not a document they pasted
        for sentence in sentences_of(turn.content)
        if len(content_words(sentence)) >= INFORMATIVE_WORDS
        and _FIRST_PERSON.search(sentence)  # what the user says about themself
        and not _NOT_A_FACT.search(sentence)
        and not asks_to_forget([sentence])  # a request to forget is not a fact to keep
    ]
    lexical = [
        not any(len(content_words(sentence) & said) >= COVERED_WORDS for said in fact_words)
        for _, sentence in candidates
    ]
    left = [c for c, open_ in zip(candidates, lexical, strict=True) if open_]
    if not left or not facts:
        return left
    sentences = embedder.embed_batch([sentence for _, sentence in left], purpose="document")
    said = embedder.embed_batch([fact.text for fact in facts], purpose="document")
    closest = (sentences @ said.T).max(axis=1)
    return [c for c, score in zip(left, closest, strict=True) if score < COVERED_SIMILARITY]


__all__ = ["COVERED_SIMILARITY", "COVERED_WORDS", "INFORMATIVE_WORDS", "uncovered"]
