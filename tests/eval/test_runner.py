from __future__ import annotations

import json
from pathlib import Path

import pytest

from engram import Memory
from engram.errors import ValidationError
from engram.eval.locomo import load_locomo
from engram.eval.runner import CHECKPOINT, QUESTIONS, run_locomo, scope_of
from engram.llms.base import ChatMessage
from engram.llms.scripted import ScriptedLLM


def test_each_turn_is_a_memory_with_its_dialog_id_and_session_date(locomo_file: Path, memory: Memory) -> None:
    run = run_locomo(locomo_file, locomo_file.parent / "out", memory=memory, progress=False)
    items = memory.get_all(user_id="locomo-syn-1")["results"]
    by_source = {tuple(item["metadata"]["source_ids"]): item for item in items}
    assert set(by_source) == {("D1:1",), ("D1:2",), ("D1:3",), ("D2:1",), ("D2:2",), ("D2:3",)}
    assert by_source[("D2:1",)]["created_at"].startswith("2023-06-02T10:15")
    assert by_source[("D1:1",)]["memory"] == "Ana: Hi Ben! I adopted a grey cat called Pixel."
    assert run.memories_added == 6


def test_questions_of_categories_1_to_4_are_scored(locomo_file: Path, memory: Memory) -> None:
    run = run_locomo(locomo_file, locomo_file.parent / "out", memory=memory, progress=False)
    assert sorted(row["category"] for row in run.rows) == [1, 2, 3, 4]
    pet = next(row for row in run.rows if row["question"] == "What pet did Ana adopt?")
    assert pet["retrieved"][0] == ["D1:1"]
    assert pet["mrr"] == 1.0
    # Six memories in all: every evidence turn is among the first ten.
    assert all(row["recall@10"] == 1.0 for row in run.rows)
    assert "prediction" not in pet


def test_an_interrupted_run_resumes_without_adding_or_asking_twice(locomo_file: Path, memory: Memory) -> None:
    out = locomo_file.parent / "out"
    run_locomo(locomo_file, out, memory=memory, progress=False)
    # Interrupt: the last question's row and the second session's checkpoint are lost.
    lines = (out / QUESTIONS).read_text().splitlines()
    (out / QUESTIONS).write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:10])
    state = json.loads((out / CHECKPOINT).read_text())
    state["ingested"]["syn-1"] = [1]
    (out / CHECKPOINT).write_text(json.dumps(state))

    run = run_locomo(locomo_file, out, memory=memory, progress=False)
    assert len(run.rows) == 4
    assert len(memory.get_all(user_id="locomo-syn-1")["results"]) == 6  # session 2 again: nothing new
    questions = [json.loads(line)["index"] for line in (out / QUESTIONS).read_text().splitlines()]
    assert sorted(questions) == [0, 1, 2, 3]


def test_a_folder_holding_another_kind_of_run_is_refused(locomo_file: Path, memory: Memory) -> None:
    out = locomo_file.parent / "out"
    run_locomo(locomo_file, out, memory=memory, progress=False)
    with pytest.raises(ValidationError, match="another output folder"):
        run_locomo(locomo_file, out, memory=memory, infer=True, progress=False)


def test_unknown_conversations_are_named(locomo_file: Path, memory: Memory) -> None:
    with pytest.raises(ValidationError, match="conv-99"):
        run_locomo(locomo_file, locomo_file.parent / "out", memory=memory, conversations=["conv-99"])


def _answer_or_judge(messages: list[ChatMessage]) -> str:
    prompt = str(messages[-1]["content"])
    if prompt.startswith("Label an answer"):
        return '{"label": "CORRECT"}' if "Generated answer: A grey cat" in prompt else '{"label": "WRONG"}'
    return "A grey cat" if "What pet did Ana adopt?" in prompt else "I do not know"


def test_with_an_llm_each_question_is_answered_judged_and_scored(
    locomo_file: Path, db_path: Path, embedder: object
) -> None:
    llm = ScriptedLLM([_answer_or_judge] * 8)  # four questions, an answer and a verdict each
    config = {"vector_store": {"provider": "sqlite", "config": {"path": str(db_path)}}}
    with Memory(config, embedder=embedder, llm=llm) as memory:  # type: ignore[arg-type]
        run = run_locomo(locomo_file, locomo_file.parent / "out", memory=memory, answer=True, k=3)
    pet = next(row for row in run.rows if row["question"] == "What pet did Ana adopt?")
    assert (pet["prediction"], pet["judge"], pet["f1"], pet["bleu1"]) == ("A grey cat", 1.0, 1.0, 1.0)
    assert pet["tokens"] > 0 and pet["answer_ms"] >= 0
    assert sum(row["judge"] for row in run.rows) == 1.0
    answer_prompt = str(llm.calls[0].messages[-1]["content"])
    assert answer_prompt.count("\n- [2023-") == 3  # k=3 memories, each with its date
    table = (locomo_file.parent / "out" / "results.md").read_text()
    assert "judge" in table and "answer_ms_p95" in table


def test_inferred_memories_keep_the_dialog_ids_of_every_source_turn(
    locomo_file: Path, db_path: Path, embedder: object
) -> None:
    facts = {
        1: '{"facts": [{"text": "Ana has a grey cat named Pixel", "sources": [0]}, '
        '{"text": "Ana has a red bike and Ben plays the cello", "sources": [1, 2]}]}',
        2: '{"facts": [{"text": "Ben performed cello in Porto", "sources": [0]}]}',
    }
    add_porto = '{"decisions": [{"fact": 0, "event": "ADD"}]}'  # compared with the cello memory: kept apart
    llm = ScriptedLLM([facts[1], facts[2], add_porto])
    config = {"vector_store": {"provider": "sqlite", "config": {"path": str(db_path)}}}
    with Memory(config, embedder=embedder, llm=llm) as memory:  # type: ignore[arg-type]
        conversation = load_locomo(locomo_file)[0]
        run_locomo(locomo_file, locomo_file.parent / "out", memory=memory, infer=True, progress=False)
        items = memory.get_all(user_id=scope_of(conversation))["results"]
    sources = sorted(item["metadata"]["source_ids"] for item in items)
    assert ["D1:2", "D1:3"] in sources and ["D2:1"] in sources
