"""A turn is indexed the same whether its conversation came in one ``add`` or one message per ``add``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from engram import Memory
from engram.embedders.local_minilm import LocalMiniLM
from engram.models import MemoryRecord
from engram.search import conversation_context
from engram.storage.base import StoredMessage, Vector
from engram.storage.sqlite import SQLiteStore

MORNING = datetime(2024, 3, 2, 9, 0, tzinfo=UTC)
EVENING = datetime(2024, 3, 9, 19, 0, tzinfo=UTC)
SESSIONS = [
    (
        MORNING,
        [
            {"role": "user", "name": "Rui", "content": "Did you finish the kayak you were building?"},
            {"role": "user", "name": "Lea", "content": "Almost! Only the varnish is left."},
            {"role": "user", "name": "Rui", "content": "Where will you take it first?"},
            {"role": "user", "name": "Lea", "content": "Down the river behind the old mill."},
        ],
    ),
    (
        EVENING,
        [
            {"role": "user", "name": "Lea", "content": "It floats, and it does not leak."},
            {"role": "user", "name": "Rui", "content": "Great, send me a picture."},
            {"role": "user", "name": "Lea", "content": "Tomorrow, it is drying now."},
        ],
    ),
]


class RecordingStore(SQLiteStore):
    """A SQLite store that remembers the last keyword text and vector written for each memory."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.keyword: dict[str, str] = {}
        self.vectors: dict[str, Vector] = {}

    def insert_memory(self, record: MemoryRecord, vector: Vector, index_text: str) -> None:
        super().insert_memory(record, vector, index_text)
        self.keyword[record.memory] = index_text
        self.vectors[record.memory] = vector

    def update_memory(self, record: MemoryRecord, vector: Vector | None, index_text: str | None) -> None:
        super().update_memory(record, vector, index_text)
        if index_text is not None:
            self.keyword[record.memory] = index_text
        if vector is not None:
            self.vectors[record.memory] = vector


@pytest.fixture
def recording(tmp_path: Path, embedder: LocalMiniLM) -> Iterator[tuple[Memory, RecordingStore]]:
    store = RecordingStore(tmp_path / "recorded.db")
    with Memory(store=store, embedder=embedder) as memory:
        yield memory, store


def _ingest(memory: Memory, *, one_call_per_message: bool) -> None:
    for when, messages in SESSIONS:
        batches = [[m] for m in messages] if one_call_per_message else [messages]
        for batch in batches:
            memory.add(batch, user_id="u", infer=False, timestamp=when)


def test_turn_by_turn_and_whole_sessions_index_the_same_text(tmp_path: Path, embedder: LocalMiniLM) -> None:
    indexed = []
    for per_message in (False, True):
        store = RecordingStore(tmp_path / f"{per_message}.db")
        with Memory(store=store, embedder=embedder) as memory:
            _ingest(memory, one_call_per_message=per_message)
        indexed.append(store)
    whole, turn_by_turn = indexed
    assert whole.keyword == turn_by_turn.keyword
    assert len(whole.keyword) == 7
    for text, vector in whole.vectors.items():
        assert np.allclose(vector, turn_by_turn.vectors[text], atol=1e-6)


def test_an_answer_added_alone_is_found_by_the_question_before_it(
    recording: tuple[Memory, RecordingStore],
) -> None:
    memory, store = recording
    _ingest(memory, one_call_per_message=True)
    answer = store.keyword["Down the river behind the old mill."]
    assert "Where will you take it first?" in answer
    found = memory.search("Where does Lea want to take it first?", user_id="u", limit=3)["results"]
    assert "Down the river behind the old mill." in [item["memory"] for item in found]


def test_a_turn_is_reindexed_when_the_turns_after_it_arrive(recording: tuple[Memory, RecordingStore]) -> None:
    memory, store = recording
    first = SESSIONS[0][1]
    memory.add(first[0], user_id="u", infer=False, timestamp=MORNING)
    assert "varnish" not in store.keyword[first[0]["content"]]
    memory.add(first[1], user_id="u", infer=False, timestamp=MORNING)
    assert "varnish" in store.keyword[first[0]["content"]]


def test_context_revisits_only_the_last_turns() -> None:
    earlier = [StoredMessage("user", text, None, MORNING) for text in ("a", "b", "c", "d")]
    context = conversation_context(earlier, ["e", "f"], span=2)
    assert context.previous == ["d", "e"]
    assert context.neighbours == [["c", "d", "f"], ["d", "e"]]
    assert [(m.content, around) for m, around in context.revisits] == [
        ("c", ["a", "b", "d", "e"]),
        ("d", ["b", "c", "e", "f"]),
    ]
    assert conversation_context([], ["x"]).revisits == []


def test_a_plain_string_is_a_note_without_context(recording: tuple[Memory, RecordingStore]) -> None:
    memory, store = recording
    memory.add("I am allergic to peanuts", user_id="u", infer=False)
    memory.add("The stock market fell sharply", user_id="u", infer=False)
    assert "peanuts" not in store.keyword["The stock market fell sharply"]
    assert "stock" not in store.keyword["I am allergic to peanuts"]


def test_turns_hours_apart_are_not_each_others_context(recording: tuple[Memory, RecordingStore]) -> None:
    memory, store = recording
    memory.add({"role": "user", "content": "Is the bakery open?"}, user_id="u", infer=False, timestamp=MORNING)
    memory.add({"role": "user", "content": "It rained all day."}, user_id="u", infer=False, timestamp=EVENING)
    assert "bakery" not in store.keyword["It rained all day."]
