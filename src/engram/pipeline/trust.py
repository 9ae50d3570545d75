"""Trust, a step of add: only the user's own words become facts about the user (DESIGN.md section 1e).

Every memory keeps the sources of the messages it came from (``MemoryRecord.sources``: user,
assistant, tool, document, from ``Message.source``). The config's ``"trust"`` section
(``privacy.sources.TrustConfig``) decides what each may do:

- ``drop_instructions`` (``drop_instructed``): a fact that carries what an instruction to the
  assistant from a non-user message said (``privacy.injection``) is never stored, and a warning names
  the signals. "Carries" is judged by words, not by the model's citations: a model that obeys an
  injection may well cite the user's message. A fact is tainted when it shares a content word with
  such a message that no user message of the add said; words the user said too are theirs, so an
  assistant that echoes the user's own request ("from now on I'll call you Bob") taints nothing.
  With ``infer=False`` such a message is kept only as an episode (``drop_instruction_turns``), and
  as an earlier message it is not shown to the model as context for a later add (``without_instructions``).
- ``facts_from`` (``protect_trusted``): whose words are the user's facts (by default, the user's).
  A fact drawn only from other sources is kept with its sources, but cannot supersede or retract a
  memory that a trusted source said: it is added beside it instead, and a warning says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engram.messages import Message
from engram.models import Event
from engram.pipeline.plan import Action, Fact
from engram.pipeline.sources import content_words
from engram.pipeline.write import sources_of
from engram.privacy.injection import instruction_signals, is_instruction
from engram.privacy.sources import Source, TrustConfig


def said_by_user(turn: Message) -> bool:
    """Whether the message is the user's own words (not the assistant, a tool or a pasted document)."""
    return turn.source == Source.USER


@dataclass(frozen=True)
class Others:
    """What the non-user messages of an add said that no user message did, and which are instructions."""

    words: list[tuple[Message, set[str]]]  # each non-user message, with its words the user did not say
    instructions: dict[int, list[str]]  # position in ``words`` -> the instruction signals it carries

    @classmethod
    def of(cls, spoken: Sequence[Message]) -> Others:
        user_words = set().union(*(content_words(t.content) for t in spoken if said_by_user(t)))
        others = [(t, content_words(t.content) - user_words) for t in spoken if not said_by_user(t)]
        signals = {i: found for i, (turn, _) in enumerate(others) if (found := instruction_signals(turn.content))}
        return cls(others, signals)

    def taint(self, fact: Fact) -> tuple[Message, list[str]] | None:
        """The instruction a fact carries words of, with its signals; None when it carries none.

        A fact that reads as an instruction itself is tainted by any non-user message it has words of."""
        words = content_words(fact.text)
        for i, found in self.instructions.items():
            turn, extra = self.words[i]
            if words & extra:
                return turn, found
        if self.words and (found := instruction_signals(fact.text)):
            for turn, extra in self.words:
                if words & extra:
                    return turn, found
        return None


def drop_instructed(
    trust: TrustConfig, facts: Sequence[Fact], decisions: Sequence[dict[str, Any] | None], spoken: Sequence[Message]
) -> tuple[list[Fact], list[dict[str, Any] | None], list[str]]:
    """The facts (and their decisions, kept in step) minus those an instruction from a non-user message
    tainted; a warning for each one dropped."""
    others = Others.of(spoken) if trust.drop_instructions else None
    if others is None or not others.words:
        return list(facts), list(decisions), []
    kept: list[Fact] = []
    kept_decisions: list[dict[str, Any] | None] = []
    warnings: list[str] = []
    for index, fact in enumerate(facts):
        if tainted := others.taint(fact):
            turn, signals = tainted
            warnings.append(
                f"dropped a fact drawn from a {turn.source.value} message that reads as an instruction to the "
                f"assistant ({', '.join(signals)}): {fact.text!r}"
            )
            continue
        kept.append(fact)
        if decisions:
            kept_decisions.append(decisions[index])
    return kept, kept_decisions, warnings


def drop_instruction_turns(trust: TrustConfig, turns: Sequence[Message]) -> tuple[list[Message], list[str]]:
    """``infer=False``: the messages to store as memories, minus non-user ones that read as an instruction
    to the assistant (they stay episodes: what was said is kept, but never as a memory)."""
    if not trust.drop_instructions:
        return list(turns), []
    kept: list[Message] = []
    warnings: list[str] = []
    for turn in turns:
        signals = [] if said_by_user(turn) else instruction_signals(turn.content)
        if signals:
            warnings.append(
                f"kept message {turn.position} ({turn.source.value}) only as an episode, not as a memory: it "
                f"reads as an instruction to the assistant ({', '.join(signals)})"
            )
        else:
            kept.append(turn)
    return kept, warnings


def without_instructions(trust: TrustConfig, messages: Sequence[Message]) -> list[Message]:
    """Earlier messages shown to the model as context, minus non-user ones that read as an instruction:
    stored as episodes, they must not steer the extraction of a later add (whose facts the trust step
    checks only against that add's own messages)."""
    if not trust.drop_instructions:
        return list(messages)
    return [m for m in messages if said_by_user(m) or not is_instruction(m.content)]


def protect_trusted(
    trust: TrustConfig, actions: Sequence[Action], spoken: Sequence[Message]
) -> tuple[list[Action], list[str]]:
    """Actions whose fact comes from no trusted source may not supersede or retract a trusted memory (one
    whose sources are unknown counts as trusted): an UPDATE becomes an ADD beside it, a DELETE a NONE."""
    kept: list[Action] = []
    warnings: list[str] = []
    for action in actions:
        target, fact = action.target, action.fact
        from_others = fact is not None and not trust.trusts(m.source for m in sources_of(fact, spoken))
        if action.event not in (Event.UPDATE, Event.DELETE) or target is None or not from_others:
            kept.append(action)
            continue
        if target.sources and not trust.trusts(target.sources):
            kept.append(action)  # what others said may be changed by what others say
            continue
        said_by = ", ".join(sorted({m.source.value for m in sources_of(fact, spoken)})) or "no known source"
        if action.event == Event.UPDATE and action.text:
            kept.append(Action(Event.ADD, fact, action.text, asked=Event.UPDATE))
            warnings.append(f"kept {action.text!r} ({said_by}) beside the memory it would have updated")
        else:
            kept.append(Action(Event.NONE, fact, target=target, asked=action.event))
            warnings.append(f"did not retract a memory on the word of {said_by}: {target.memory!r}")
    return kept, warnings


__all__ = [
    "Others",
    "drop_instructed",
    "drop_instruction_turns",
    "protect_trusted",
    "said_by_user",
    "without_instructions",
]
