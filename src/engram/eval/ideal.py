"""A capable model, written by hand: the ceiling of the add pipeline on the memory-updates scenarios.

No capable hosted model is reachable here, so its answers are written down instead: for every
session of every scenario, the facts a capable model would extract (atomic, dated where the chat
dates them, with the subject and attribute each is about), the decision it would take against
the stored memories, and a forget request only where the user asked for one.

``IdealModel`` replays them *by content*, as a real model answers: it finds which session is being
added from the conversation in the request, and names a memory it updates, retracts or repeats by
the number under which the request shows it (the answers name the memory by its text). A memory
the request does not show cannot be named: the model then says UPDATE or DELETE without a target,
as a real one would, and the pipeline must resolve it. Everything it fails is engram's own fault
(a guard refusing a right decision, ranking, ``as_of`` edges); ``misses`` records each target a
request did not show, to tell ranking faults from the rest.

    engram eval updates DATA.json --ideal ANSWERS.json --out ideal-run

The answers file: ``{"scenarios": {id: [session answer, ...]}}`` where a session answer is
``{"facts": [{"text", "about", "sources", "date", "event", "target"}], "forget": [{"what", "target"}]}``
where ``target`` is the text of the earlier fact a decision (or a forget request) concerns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engram.errors import ValidationError
from engram.eval.updates import Scenario
from engram.llms.base import ChatMessage, Completion, Usage
from engram.pipeline.prompts import CONVERSATION_HEADER, MEMORIES_HEADER

_NUMBERED = re.compile(r"^\[(\d+)\] (.*?)(?=^\[\d+\] |\Z)", re.MULTILINE | re.DOTALL)
_SPEAKER = re.compile(r"^\w+(?: \([^)]*\))?: ", re.DOTALL)


@dataclass
class Miss:
    """A decision the ideal model could not name a memory for: its target was not shown."""

    scenario: str
    session: int
    fact: str
    event: str
    target: str


@dataclass
class IdealModel:
    """Replays hand-written answers (see the module's docstring); never a default LLM."""

    answers: Mapping[str, Sequence[Mapping[str, Any]]]
    scenarios: Sequence[Scenario]
    misses: list[Miss] = field(default_factory=list)
    model_name: str = "ideal"
    provider: str = "ideal"

    @classmethod
    def from_file(cls, path: str | Path, scenarios: Sequence[Scenario]) -> IdealModel:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            answers = data["scenarios"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValidationError(f"cannot read the ideal answers {path}: {exc}") from exc
        missing = [s.id for s in scenarios if len(answers.get(s.id, ())) != len(s.sessions)]
        if missing:
            raise ValidationError(f"{path}: no answer for every session of {', '.join(missing)}")
        return cls(answers, scenarios)

    def complete(self, messages: list[ChatMessage], *, json_schema: dict[str, Any] | None = None) -> Completion:
        request = str(messages[-1]["content"])
        scenario, session = self._session_of(request)
        shown = numbered(section(request, MEMORIES_HEADER))
        fact_schema = ((json_schema or {}).get("properties", {}).get("facts", {}).get("items", {})).get(
            "properties", {}
        )
        answer = self.answers[scenario][session]
        facts = [self._fact(item, shown, fact_schema, scenario, session) for item in answer.get("facts", [])]
        forget = [self._forget(item, shown, scenario, session) for item in answer.get("forget", [])]
        text = json.dumps({"facts": facts, "forget": forget})
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        return Completion(text, Usage(1, prompt_tokens, len(text.split())), self.model_name)

    def _session_of(self, request: str) -> tuple[str, int]:
        said = [_SPEAKER.sub("", line, count=1).strip() for line in numbered(section(request, CONVERSATION_HEADER))]
        for scenario in self.scenarios:
            for index, (_, session) in enumerate(scenario.sessions):
                contents = [" ".join(str(m["content"]).split()) for m in session]
                if contents and [" ".join(s.split()) for s in said] == contents[: len(said)] and said:
                    return scenario.id, index
        raise ValidationError("the ideal model was asked about a conversation no scenario holds")

    def _fact(
        self, item: Mapping[str, Any], shown: list[str], schema: Mapping[str, Any], scenario: str, session: int
    ) -> dict[str, Any]:
        fact = {key: item.get(key) for key in ("text", "about", "sources", "date") if key in schema}
        fact["text"] = item["text"]
        fact.setdefault("sources", item.get("sources", []))
        if "event" not in schema:  # no memory was shown: every fact is new to the model
            return fact
        event, target = str(item.get("event", "ADD")), item.get("target")
        position = find_shown(shown, target) if target else None
        if target and position is None:
            self.misses.append(Miss(scenario, session, str(item["text"]), event, str(target)))
            if event == "NONE":
                event = "ADD"  # a memory it cannot see is one it cannot say it already holds
        fact["event"], fact["memory"] = event, position
        return fact


    def _forget(self, item: Any, shown: list[str], scenario: str, session: int) -> dict[str, Any]:
        """A forget request, naming the shown memory it concerns (``target``), when shown."""
        if isinstance(item, str):
            return {"what": item, "memory": None}
        target = item.get("target")
        position = find_shown(shown, target) if target else None
        if target and position is None:
            self.misses.append(Miss(scenario, session, str(item["what"]), "FORGET", str(target)))
        return {"what": item["what"], "memory": position}


def section(request: str, header: str) -> str:
    """The block of a request under ``header``, up to the next blank line."""
    start = request.find(header)
    if start < 0:
        return ""
    block = request[start + len(header) :].lstrip("\n")
    end = block.find("\n\n")
    return block if end < 0 else block[:end]


def numbered(block: str) -> list[str]:
    """The items of a ``[0] ...`` list, in order."""
    return [text.strip() for _, text in sorted(((int(n), t) for n, t in _NUMBERED.findall(block)))]


def find_shown(shown: Sequence[str], target: str) -> int | None:
    """The number of the shown memory whose text is ``target`` (case and spacing aside)."""
    wanted = " ".join(target.split()).casefold()
    for position, text in enumerate(shown):
        if " ".join(text.split()).casefold() == wanted:
            return position
    return None


__all__ = ["IdealModel", "Miss", "find_shown", "numbered", "section"]
