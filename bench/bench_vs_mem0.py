"""engram next to mem0 on the same data, the same embedder and one machine.

Both libraries get the same LoCoMo sessions through ``add(..., infer=False)`` (every turn stored
verbatim, no LLM) and the same questions through ``search``. Both embed with engram's default local
model (all-MiniLM-L6-v2, int8 ONNX): mem0 gets it as its embedding model, so neither pays more for
embeddings than the other. mem0 keeps its default local vector store (Qdrant in local mode, on
disk) and its default search (vector + BM25 + entity boosts). mem0 is not a dependency of engram:
install it into your own environment with ``pip install mem0ai``.

It prints, for each library: add throughput (turns per second, one ``add`` per session), search
latency p50/p95 (including embedding the question) and turn-level Recall@10 over categories 1–4,
then the ratios.

    .venv/bin/python bench/bench_vs_mem0.py [PATH] [--conversations conv-26,conv-30] [--questions 200]

mem0 notes: its open-source ``add`` has no ``timestamp`` (``"Platform-only"``), so it never learns
the session dates that engram indexes; its ``search`` takes the scope inside ``filters`` and drops
results scoring under 0.1 by default, so it is called with ``threshold=0.0`` here.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engram import Memory
from engram.embedders.local_minilm import LocalMiniLM
from engram.eval.locomo import SCORED_CATEGORIES, Conversation, load_locomo
from engram.eval.metrics import percentile, recall_at_k
from engram.eval.runner import scope_of, session_messages

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo-dev.json"
DEFAULT_CONVERSATIONS = "conv-26,conv-30"
SEARCH_LIMIT = 10


class SharedEmbedder:
    """engram's default embedder behind mem0's embedding interface (``embed(text, memory_action)``)."""

    def __init__(self, embedder: LocalMiniLM) -> None:
        self.embedder = embedder
        self.config = None

    def embed(self, text: str, memory_action: str | None = None) -> list[float]:
        purpose = "query" if memory_action == "search" else "document"
        return [float(x) for x in self.embedder.embed_batch([text], purpose=purpose)[0]]

    def embed_batch(self, texts: list[str], memory_action: str = "add") -> list[list[float]]:
        return [[float(x) for x in row] for row in self.embedder.embed_batch(texts)]


class Contender:
    """One library: how it adds a session and searches a scope."""

    def __init__(
        self,
        name: str,
        add: Callable[[list[dict[str, Any]], str, Any], None],
        search: Callable[[str, str], list[str]],
    ) -> None:
        self.name, self.add, self.search = name, add, search
        self.results: dict[str, float] = {}


def engram_contender(folder: Path, embedder: LocalMiniLM) -> Contender:
    memory = Memory(
        {"vector_store": {"provider": "sqlite", "config": {"path": str(folder / "engram.db")}}}, embedder=embedder
    )

    def add(messages: list[dict[str, Any]], scope: str, when: Any) -> None:
        memory.add(messages, user_id=scope, infer=False, timestamp=when)

    def search(question: str, scope: str) -> list[str]:
        return [item["memory"] for item in memory.search(question, user_id=scope, limit=SEARCH_LIMIT)["results"]]

    return Contender("engram", add, search)


def mem0_contender(folder: Path, embedder: LocalMiniLM) -> Contender:
    os.environ.setdefault("MEM0_TELEMETRY", "False")  # no network calls from a benchmark
    os.environ.setdefault("OPENAI_API_KEY", "unused: infer=False never calls the LLM")
    from mem0 import Memory as Mem0Memory

    config = {
        "vector_store": {
            "provider": "qdrant",
            "config": {"path": str(folder / "qdrant"), "embedding_model_dims": 384, "on_disk": True},
        },
        "history_db_path": str(folder / "mem0-history.db"),
    }
    memory = Mem0Memory.from_config(config)
    memory.embedding_model = SharedEmbedder(embedder)

    def add(messages: list[dict[str, Any]], scope: str, when: Any) -> None:
        plain = [{"role": m["role"], "content": m["content"], "name": m["name"]} for m in messages]
        memory.add(plain, user_id=scope, infer=False)

    def search(question: str, scope: str) -> list[str]:
        found = memory.search(question, filters={"user_id": scope}, top_k=SEARCH_LIMIT, threshold=0.0)
        return [item["memory"] for item in found["results"]]

    return Contender("mem0", add, search)


def run(contender: Contender, conversations: Sequence[Conversation], max_questions: int) -> None:
    turns = 0
    started = time.perf_counter()
    for conversation in conversations:
        for index, session in enumerate(conversation.sessions):
            messages = session_messages(conversation, index)
            contender.add(messages, scope_of(conversation), session.date)
            turns += len(messages)
    add_seconds = time.perf_counter() - started

    # Memories are matched to dialog ids by their text, the same way for both libraries.
    text_to_id = {turn.content(): turn.dia_id for c in conversations for s in c.sessions for turn in s.turns}
    latencies, recalls = [], []
    questions = [(c, q) for c in conversations for q in c.questions if q.category in SCORED_CATEGORIES and q.evidence][
        :max_questions
    ]
    for conversation, question in questions:
        started = time.perf_counter()
        texts = contender.search(question.question, scope_of(conversation))
        latencies.append((time.perf_counter() - started) * 1000)
        retrieved = [[text_to_id[t]] if t in text_to_id else [] for t in texts]
        recalls.append(recall_at_k(retrieved, question.evidence, 10))
    contender.results = {
        "turns": turns,
        "add_turns_per_s": turns / add_seconds,
        "search_p50_ms": percentile(latencies, 50),
        "search_p95_ms": percentile(latencies, 95),
        "recall@10": sum(recalls) / max(1, len(recalls)),
        "questions": len(questions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=str(DEFAULT_DATASET))
    parser.add_argument("--conversations", default=DEFAULT_CONVERSATIONS, help="comma-separated, or 'all'")
    parser.add_argument("--questions", type=int, default=10_000, help="at most this many questions")
    args = parser.parse_args()
    conversations = load_locomo(args.path)
    if args.conversations != "all":
        wanted = args.conversations.split(",")
        conversations = [c for c in conversations if c.sample_id in wanted]
    embedder = LocalMiniLM()
    embedder.embed_batch(["warm up"])
    with tempfile.TemporaryDirectory() as scratch:
        contenders = [engram_contender(Path(scratch), embedder), mem0_contender(Path(scratch), embedder)]
        for contender in contenders:
            run(contender, conversations, args.questions)
    engram, mem0 = (c.results for c in contenders)
    print(f"\n{len(conversations)} conversations ({engram['turns']} turns), {engram['questions']} questions\n")
    print(f"{'':<24}{'engram':>12}{'mem0':>12}{'ratio':>10}")
    rows = [
        ("add turns/s", "add_turns_per_s", engram["add_turns_per_s"] / mem0["add_turns_per_s"], "x faster"),
        ("search p50 ms", "search_p50_ms", mem0["search_p50_ms"] / engram["search_p50_ms"], "x faster"),
        ("search p95 ms", "search_p95_ms", mem0["search_p95_ms"] / engram["search_p95_ms"], "x faster"),
        ("Recall@10 (cat. 1-4)", "recall@10", engram["recall@10"] - mem0["recall@10"], " points"),
    ]
    for label, key, ratio, unit in rows:
        shown = f"{ratio * 100:+.1f}{unit}" if key == "recall@10" else f"{ratio:.1f}{unit}"
        print(f"{label:<24}{engram[key]:>12.3f}{mem0[key]:>12.3f}  {shown}")


if __name__ == "__main__":
    main()
