"""Reading LoCoMo-format conversations (Maharana et al., ACL 2024).

A file is a list of conversations. Each has ``sample_id``, ``conversation``
(``speaker_a``, ``speaker_b``, ``session_N`` turn lists and their
``session_N_date_time``) and ``qa`` (question, answer, evidence dialog ids,
category). The published data has a few malformed evidence ids (``"D8:6; D9:17"``,
``"D:11:26"``, ``"D30:05"``); :func:`normalise_evidence` repairs them so that
recall is measured against the turns the annotators meant.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engram.errors import ValidationError

CATEGORIES: dict[int, str] = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}
SCORED_CATEGORIES = (1, 2, 3, 4)  # category 5 has no answer in the conversation

_SESSION_KEY = re.compile(r"session_(\d+)$")
_DIA_ID = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)")
_DATE_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%I:%M %p on %B %d, %Y")


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    image_caption: str | None = None

    def content(self) -> str:
        """The turn as a memory reads it: who said it, what, and what picture they shared."""
        text = f"{self.speaker}: {self.text}"
        if self.image_caption:
            text += f" [shares a photo of {self.image_caption}]"
        return text


@dataclass(frozen=True)
class Session:
    number: int
    date: datetime
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Question:
    index: int  # position in the conversation's qa list: a stable key for checkpoints
    question: str
    answer: str
    evidence: tuple[str, ...]
    category: int


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    sessions: tuple[Session, ...]
    questions: tuple[Question, ...]

    @property
    def dia_ids(self) -> set[str]:
        return {turn.dia_id for session in self.sessions for turn in session.turns}


def normalise_evidence(raw: Sequence[Any]) -> tuple[str, ...]:
    """Canonical ``D<session>:<turn>`` ids, in order, each once; unreadable entries are dropped.

    >>> normalise_evidence(["D8:6; D9:17", "D:11:26", "D30:05", "D"])
    ('D8:6', 'D9:17', 'D11:26', 'D30:5')
    """
    ids: dict[str, None] = {}
    for item in raw:
        for session, turn in _DIA_ID.findall(str(item)):
            ids[f"D{int(session)}:{int(turn)}"] = None
    return tuple(ids)


def parse_session_date(text: str) -> datetime:
    """LoCoMo writes session dates like "1:56 pm on 8 May, 2023"; they are read as UTC."""
    cleaned = " ".join(text.replace(".", "").split()).upper().replace(" ON ", " on ")
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValidationError(f"unreadable LoCoMo session date {text!r} (expected like '1:56 pm on 8 May, 2023')")


def load_locomo(path: str | Path) -> list[Conversation]:
    """Every conversation of a LoCoMo-format JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"cannot read LoCoMo file {path}: {exc}") from exc
    if not isinstance(data, list):
        raise ValidationError(f"{path}: a LoCoMo file is a JSON list of conversations")
    return [_conversation(item) for item in data]


def _conversation(item: dict[str, Any]) -> Conversation:
    sample_id = str(item["sample_id"])
    raw = item["conversation"]
    sessions = []
    for key, turns in raw.items():
        match = _SESSION_KEY.match(key)
        if not match or not isinstance(turns, list) or not turns:
            continue
        number = int(match.group(1))
        sessions.append(Session(number, parse_session_date(raw[f"{key}_date_time"]), tuple(_turn(t) for t in turns)))
    sessions.sort(key=lambda s: s.number)
    questions = tuple(
        Question(
            index=i,
            question=str(qa["question"]),
            answer=str(qa.get("answer", qa.get("adversarial_answer", ""))),
            evidence=normalise_evidence(qa.get("evidence", [])),
            category=int(qa["category"]),
        )
        for i, qa in enumerate(item.get("qa", []))
    )
    return Conversation(sample_id, (str(raw["speaker_a"]), str(raw["speaker_b"])), tuple(sessions), questions)


def _turn(raw: dict[str, Any]) -> Turn:
    (dia_id,) = normalise_evidence([raw["dia_id"]]) or (str(raw["dia_id"]),)
    caption = raw.get("blip_caption")
    return Turn(dia_id, str(raw["speaker"]), str(raw["text"]), str(caption) if caption else None)
