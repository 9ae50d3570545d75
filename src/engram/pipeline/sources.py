"""Verify sources, a step of add: the messages a fact really came from.

The model cites the messages each fact came from; the citation is checked against the words they
share. A fact that shares no content word with any message of its add was not said there (taken
from the memories shown, or made up): ``guards.drop_unsaid`` drops it. So is a fact that names
people or places none of which the messages name ("User's sister Ana lives in Porto" in a chat about
a cousin in Lisbon), and a fact of the prompt's own example that the messages do not say.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from engram.messages import Message
from engram.pipeline.plan import Fact
from engram.pipeline.prompts import EXAMPLE_FACTS

MAX_SOURCES = 3  # messages a fact may cite; a fact drawn from more is a summary, not a citation

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_STOPWORDS = frozenset(
    """a an the and or but of to in on at for with from by about as is are was were be been being
    has have had do does did not no it its this that these those there their they them he she his
    her him i me my we our you your user users s will would can could should just also very so
    than then now still again any some all more most""".split()
)


_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][^\W\d_]+", re.UNICODE)  # a capitalised word inside a sentence
_NOT_NAMES = frozenset(
    """user january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday christmas easter""".split()
)
_EXAMPLES = frozenset(example.casefold() for example in EXAMPLE_FACTS)


def verify_sources(facts: Sequence[Fact], spoken: Sequence[Message], shown: Sequence[str] = ()) -> list[Fact]:
    """Each fact with the messages it really came from (``verified_sources``); a fact may also take
    its names from the memories ``shown`` to the model ("pushed back a month" updates "flies to Japan")."""
    said = [turn.content for turn in spoken]
    return [
        replace(
            fact,
            sources=() if names_unsaid(fact.text, [*said, *shown]) else verified_sources(fact.text, fact.sources, said),
        )
        for fact in facts
    ]


def content_words(text: str) -> set[str]:
    """Lower-cased words that carry content, cut to 5 letters so "moved"/"moving" meet."""
    return {w.lower()[:5] for w in _WORD.findall(text) if w.lower() not in _STOPWORDS and len(w) > 2}


def verified_sources(fact: str, cited: Sequence[int], messages: Sequence[str]) -> tuple[int, ...]:
    """The messages a fact really came from: of those the LLM cited (all, when it cited none or
    none of those it cited shares a word with the fact), the at most ``MAX_SOURCES`` sharing the
    most content words with the fact. Empty when no message does: the fact was not said."""
    if copied_example(fact, messages):
        return ()
    words = content_words(fact)
    candidates = list(dict.fromkeys(cited)) or list(range(len(messages)))
    overlap = {i: len(words & content_words(messages[i])) for i in candidates if 0 <= i < len(messages)}
    ranked = sorted((i for i, shared in overlap.items() if shared), key=lambda i: (-overlap[i], i))
    if not ranked and cited:  # the model cited the wrong messages: look at all of them
        return verified_sources(fact, (), messages)
    return tuple(sorted(ranked[:MAX_SOURCES]))


def names_of(text: str) -> set[str]:
    """The names a text uses: its capitalised words past the first, bar "User", months and days."""
    return {name.casefold() for name in _NAME.findall(text)} - _NOT_NAMES


def names_unsaid(fact: str, messages: Sequence[str]) -> bool:
    """Whether a fact names someone or somewhere and no message names any of them."""
    names = names_of(fact)
    if not names:
        return False
    said = {word.casefold() for message in messages for word in _WORD.findall(message)}
    return not names & said


def copied_example(fact: str, messages: Sequence[str]) -> bool:
    """Whether a fact is one of the prompt's example facts and the messages do not say each of its
    longer words ("sister", "carpenter")."""
    if fact.strip().rstrip(".").casefold() not in _EXAMPLES:
        return False
    said = set().union(*(content_words(message) for message in messages))
    return not {w.lower()[:5] for w in _WORD.findall(fact) if len(w) > 5} <= said


__all__ = [
    "MAX_SOURCES",
    "content_words",
    "copied_example",
    "names_of",
    "names_unsaid",
    "verified_sources",
    "verify_sources",
]
