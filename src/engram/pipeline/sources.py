"""Verify sources, a step of add: the messages a fact really came from.

The model cites the messages each fact came from; the citation is checked against the words they
share. A fact that shares no content word with any message of its add was not said there (taken
from the memories shown, or made up): ``guards.drop_unsaid`` drops it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from engram.messages import Message
from engram.pipeline.plan import Fact

MAX_SOURCES = 3  # messages a fact may cite; a fact drawn from more is a summary, not a citation

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_STOPWORDS = frozenset(
    """a an the and or but of to in on at for with from by about as is are was were be been being
    has have had do does did not no it its this that these those there their they them he she his
    her him i me my we our you your user users s will would can could should just also very so
    than then now still again any some all more most""".split()
)


def verify_sources(facts: Sequence[Fact], spoken: Sequence[Message]) -> list[Fact]:
    """Each fact with the messages it really came from (``verified_sources``)."""
    said = [turn.content for turn in spoken]
    return [replace(fact, sources=verified_sources(fact.text, fact.sources, said)) for fact in facts]


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


__all__ = ["MAX_SOURCES", "content_words", "verified_sources", "verify_sources"]
