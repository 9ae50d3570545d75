from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engram.errors import ValidationError
from engram.eval.locomo import load_locomo, normalise_evidence, parse_session_date


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["D8:6; D9:17"], ("D8:6", "D9:17")),
        (["D:11:26"], ("D11:26",)),
        (["D30:05"], ("D30:5",)),
        (["D1:3", "D1:3"], ("D1:3",)),
        (["D", ""], ()),
    ],
)
def test_malformed_evidence_ids_are_normalised(raw: list[str], expected: tuple[str, ...]) -> None:
    assert normalise_evidence(raw) == expected


def test_session_dates_are_read_as_utc() -> None:
    assert parse_session_date("1:56 pm on 8 May, 2023") == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert parse_session_date("10:04 am on 19 January, 2024") == datetime(2024, 1, 19, 10, 4, tzinfo=UTC)


def test_an_unreadable_date_says_what_it_expected() -> None:
    with pytest.raises(ValidationError, match="8 May, 2023"):
        parse_session_date("yesterday")


def test_load_reads_sessions_turns_and_questions(locomo_file: Path) -> None:
    (conversation,) = load_locomo(locomo_file)
    assert conversation.sample_id == "syn-1"
    assert conversation.speakers == ("Ana", "Ben")
    assert [s.number for s in conversation.sessions] == [1, 2]
    assert conversation.sessions[1].date == datetime(2023, 6, 2, 10, 15, tzinfo=UTC)
    bike = conversation.sessions[0].turns[2]
    assert bike.content() == "Ana: Look at my new bike. [shares a photo of a red bicycle leaning on a wall]"
    evidence = {q.question: q.evidence for q in conversation.questions}
    assert evidence["When did Ben play his first concert?"] == ("D2:1",)
    assert evidence["What instrument does Ben play and where did he perform?"] == ("D1:2", "D2:1")
    adversarial = conversation.questions[-1]
    assert (adversarial.category, adversarial.answer) == (5, "coffee")


def test_a_file_that_is_not_a_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"sample_id": "x"}', encoding="utf-8")
    with pytest.raises(ValidationError, match="list of conversations"):
        load_locomo(path)
