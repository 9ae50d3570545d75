"""Run the LoCoMo evaluation: ingest each conversation into its own scope, ask every question.

Everything lands in one output folder, which also makes the run resumable:

- ``engram.db``: the memories (unless a ``Memory`` is passed in);
- ``checkpoint.json``: the run's options and the sessions already ingested;
- ``questions.jsonl``: one scored row per question answered so far;
- ``results.json``, ``results.md`` and the PNG plots, written at the end.

Run it again with the same folder after an interruption and it carries on
where it stopped: ingested sessions are not added again and answered
questions are not asked again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from engram.errors import ValidationError
from engram.eval.answer import answer_question, judge_answer
from engram.eval.locomo import SCORED_CATEGORIES, Conversation, Question, load_locomo
from engram.eval.metrics import RECALL_KS, bleu1, recall_at_k, reciprocal_rank, token_f1

if TYPE_CHECKING:
    from engram.llms.base import LLM
    from engram.memory import Memory

CHECKPOINT = "checkpoint.json"
QUESTIONS = "questions.jsonl"
DB_NAME = "engram.db"

T = TypeVar("T")


@dataclass(frozen=True)
class EvalOptions:
    """What a run measures; a resumed run must use the same options."""

    dataset: str
    infer: bool = False
    k: int = 10  # memories handed to the answering LLM
    conversations: tuple[str, ...] | None = None  # sample ids; None means all
    categories: tuple[int, ...] = SCORED_CATEGORIES
    answer: bool = False  # answer and judge with the LLM

    @property
    def search_limit(self) -> int:
        return max(self.k, *RECALL_KS)


@dataclass
class EvalRun:
    options: EvalOptions
    out_dir: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    ingest_seconds: float = 0.0
    memories_added: int = 0


def scope_of(conversation: Conversation) -> str:
    """The user_id that holds one conversation's memories."""
    return f"locomo-{conversation.sample_id}"


def run_locomo(
    dataset: str | Path,
    out_dir: str | Path,
    *,
    memory: Memory | None = None,
    conversations: Sequence[str] | None = None,
    infer: bool = False,
    k: int = 10,
    answer: bool = False,
    progress: bool = True,
    config: Mapping[str, Any] | None = None,
) -> EvalRun:
    """Evaluate retrieval (and, with ``answer=True``, answers) on a LoCoMo-format file.

    Without ``memory``, a ``Memory`` built from ``config`` (a ``Memory.from_config``
    dict: its LLM, embedder...) is used, with its database at ``out_dir/engram.db``.
    ``answer=True`` needs an LLM (``memory.llm``).
    """
    if k < 1:
        raise ValidationError(f"k must be at least 1, got {k}")
    options = EvalOptions(
        dataset=str(Path(dataset).resolve()),
        infer=infer,
        k=k,
        conversations=tuple(conversations) if conversations else None,
        answer=answer,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    selected = select_by_id(load_locomo(dataset), options.conversations, lambda c: c.sample_id, "conversation")
    with memory_for(out, memory, config) as memory:
        llm = memory.llm if answer else None  # fails early, with the ConfigError's advice, when none is set
        run = EvalRun(options, out)
        checkpoint = _Checkpoint.open(out / CHECKPOINT, options)
        for conversation in selected:
            _ingest(memory, conversation, options, checkpoint, run, progress)
        run.rows = _ask_all(memory, llm, selected, options, out / QUESTIONS, progress)
        run.ingest_seconds = checkpoint.ingest_seconds
        run.memories_added = checkpoint.memories_added

    from engram.eval.report import write_reports

    write_reports(run)
    return run


@contextmanager
def memory_for(
    out: Path, memory: Memory | None, config: Mapping[str, Any] | None, llm: LLM | None = None
) -> Iterator[Memory]:
    """The ``Memory`` an evaluation runs on: the one given, else one built from ``config`` (and
    ``llm``) with its database in ``out``, closed when the evaluation ends."""
    if memory is not None:
        yield memory
        return
    from engram.memory import Memory

    store = {"provider": "sqlite", "config": {"path": str(out / DB_NAME)}}
    with Memory({**(config or {}), "vector_store": store}, llm=llm) as built:
        yield built


def select_by_id(items: list[T], wanted: Sequence[str] | None, id_of: Callable[[T], str], what: str) -> list[T]:
    """The items named in ``wanted`` (all of them when None), in that order; an unknown id is an error."""
    if wanted is None:
        return items
    known = {id_of(item): item for item in items}
    missing = [item_id for item_id in wanted if item_id not in known]
    if missing:
        raise ValidationError(f"no {what} {', '.join(missing)} in the file; it has {', '.join(known)}")
    return [known[item_id] for item_id in wanted]


# -- ingestion -----------------------------------------------------------------------------------


@dataclass
class _Checkpoint:
    path: Path
    options: dict[str, Any]
    ingested: dict[str, list[int]]
    ingest_seconds: float = 0.0
    memories_added: int = 0

    @classmethod
    def open(cls, path: Path, options: EvalOptions) -> _Checkpoint:
        wanted = {"dataset": options.dataset, "infer": options.infer, "answer": options.answer, "k": options.k}
        if not path.exists():
            checkpoint = cls(path, wanted, {})
            checkpoint.save()
            return checkpoint
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved["options"] != wanted:
            raise ValidationError(
                f"{path.parent} holds a run with other options ({saved['options']}): "
                "give another output folder to start a new run"
            )
        return cls(path, wanted, saved["ingested"], saved["ingest_seconds"], saved["memories_added"])

    def done(self, sample_id: str, session: int) -> bool:
        return session in self.ingested.get(sample_id, [])

    def mark(self, sample_id: str, session: int, seconds: float, added: int) -> None:
        self.ingested.setdefault(sample_id, []).append(session)
        self.ingest_seconds += seconds
        self.memories_added += added
        self.save()

    def save(self) -> None:
        state = {
            "options": self.options,
            "ingested": self.ingested,
            "ingest_seconds": self.ingest_seconds,
            "memories_added": self.memories_added,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        tmp.replace(self.path)  # atomic: a crash never leaves half a checkpoint


def session_messages(conversation: Conversation, session_index: int) -> list[dict[str, Any]]:
    """One session as chat messages: each turn keeps its speaker as ``name`` and its dialog id as ``id``."""
    session = conversation.sessions[session_index]
    return [
        {"role": "user", "name": turn.speaker, "content": turn.content(), "id": turn.dia_id} for turn in session.turns
    ]


def _ingest(
    memory: Memory,
    conversation: Conversation,
    options: EvalOptions,
    checkpoint: _Checkpoint,
    run: EvalRun,
    progress: bool,
) -> None:
    todo = [i for i, s in enumerate(conversation.sessions) if not checkpoint.done(conversation.sample_id, s.number)]
    for i in progress_bar(todo, progress, f"add {conversation.sample_id}"):
        session = conversation.sessions[i]
        started = time.perf_counter()
        result = memory.add(
            session_messages(conversation, i),
            user_id=scope_of(conversation),
            infer=options.infer,
            timestamp=session.date,
            metadata={"session": session.number},
        )
        added = sum(1 for item in result["results"] if item["event"] == "ADD")
        checkpoint.mark(conversation.sample_id, session.number, time.perf_counter() - started, added)


# -- questions -----------------------------------------------------------------------------------


def _ask_all(
    memory: Memory,
    llm: LLM | None,
    conversations: list[Conversation],
    options: EvalOptions,
    path: Path,
    progress: bool,
) -> list[dict[str, Any]]:
    rows = read_rows(path)
    # Rewrite what survived, so a line cut short by an interruption cannot swallow the next row.
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    done = {(row["sample_id"], row["index"]) for row in rows}
    todo = [
        (conversation, question)
        for conversation in conversations
        for question in conversation.questions
        if question.category in options.categories
        and question.evidence
        and (conversation.sample_id, question.index) not in done
    ]
    with path.open("a", encoding="utf-8") as sink:
        for conversation, question in progress_bar(todo, progress, "questions"):
            row = ask(memory, llm, conversation, question, options)
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            rows.append(row)
    wanted = {c.sample_id for c in conversations}
    return [row for row in rows if row["sample_id"] in wanted and row["category"] in options.categories]


def ask(
    memory: Memory, llm: LLM | None, conversation: Conversation, question: Question, options: EvalOptions
) -> dict[str, Any]:
    """Search for one question, score retrieval, and (with an LLM) answer and judge it."""
    started = time.perf_counter()
    found = memory.search(question.question, user_id=scope_of(conversation), limit=options.search_limit)
    search_ms = (time.perf_counter() - started) * 1000
    items = found["results"]
    retrieved = [list(item.get("metadata", {}).get("source_ids", [])) for item in items]
    row: dict[str, Any] = {
        "sample_id": conversation.sample_id,
        "index": question.index,
        "category": question.category,
        "question": question.question,
        "gold": question.answer,
        "evidence": list(question.evidence),
        "retrieved": retrieved,
        "search_ms": search_ms,
        "mrr": reciprocal_rank(retrieved, question.evidence),
    }
    for k in RECALL_KS:
        row[f"recall@{k}"] = recall_at_k(retrieved, question.evidence, k)
    if llm is not None:
        speakers = " and ".join(conversation.speakers)
        answered = answer_question(llm, question.question, items[: options.k], speakers)
        correct, judge_usage = judge_answer(llm, question.question, question.answer, answered.text)
        row |= {
            "prediction": answered.text,
            "judge": 1.0 if correct else 0.0,
            "f1": token_f1(answered.text, question.answer),
            "bleu1": bleu1(answered.text, question.answer),
            "answer_ms": answered.latency_ms,
            "tokens": answered.usage.total_tokens,
            "judge_tokens": judge_usage.total_tokens,
        }
    return row


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by an interruption: that question is asked again
    return rows


def progress_bar(items: Sequence[T], enabled: bool, description: str) -> Iterable[T]:
    """A tqdm progress bar when tqdm is installed and wanted; the plain items otherwise."""
    if not enabled or not items:
        return items
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    bar: Iterable[T] = tqdm(items, desc=description, leave=False)
    return bar
