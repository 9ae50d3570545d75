"""Retrieval quality on LoCoMo, with honest (cross-validated) tuning of the search weights.

Every turn is stored verbatim (``infer=False``, no LLM), with its session's date as ``timestamp``,
either one ``add`` per session or one ``add`` per turn (as a chat app adds each message when it
comes). Each question then searches its conversation's scope; Recall@10 is the share of its
evidence turns among the first 10 results (categories 1-4).

    .venv/bin/python bench/bench_recall.py [PATH] [--granularity session|turn|both] [--cv] [--graph] [--out DIR]

``--cv`` tunes the fusion weights (``search.Weights``) over a grid by leave-one-conversation-out
cross-validation: each conversation is scored with the weights that did best on the others. It
prints, per category, the shipped defaults, the in-sample best (tuned and scored on the same
conversations: optimistic) and the cross-validated figure (the honest one).

``--graph`` turns graph memory on (entities from the speakers' names and the local entity
recogniser of ``engramdb[graph]``): the graph's ranking joins fusion as one more list, and ``--cv``
tunes its weight too. ``--out DIR`` keeps the database (``bench/bench_graph_cv.py`` reuses it).

PATH defaults to ../shared/data/locomo-dev.json (CC BY-NC: read from there, never copied here).
Only the search ranking is recomputed per weight setting: each question's candidate lists and
records are read from the store once, and ``search.fuse`` / ``search.apply_boosts`` (what
``hybrid_search`` runs) rank them.
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import statistics
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engram import Memory
from engram.embedders import build_embedder
from engram.embedders.base import similarity_floor
from engram.eval.locomo import CATEGORIES, SCORED_CATEGORIES, Conversation, load_locomo
from engram.eval.metrics import recall_at_k
from engram.eval.runner import scope_of, session_messages
from engram.graph_search import graph_candidates, match_query
from engram.models import MemoryRecord, Scope, utcnow
from engram.search import (
    BOOSTS,
    DEFAULT_WEIGHTS,
    GRAPH,
    HEAD,
    KEYWORD,
    MIN_POOL,
    VECTOR,
    Candidate,
    RankedList,
    Weights,
    boost_strengths,
    fuse,
    gather,
    rank_candidates,
)
from engram.storage.base import Query

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo-dev.json"
K = 10

# The grid --cv searches: the vector's share of the two lists (the keyword list gets the rest), the
# speaker boost and the session support.
GRID_VECTOR = (0.4, 0.5, 0.6, 0.7)
GRID_SPEAKER = (0.0, 0.05, 0.1, 0.15)
GRID_SESSION = (0.0, 0.1, 0.2, 0.4, 0.8)
GRID_DATED = (0.0, 0.05, 0.1, 0.2)
GRID_GRAPH = (0.0, 0.05, 0.1, 0.2)  # with --graph


@dataclass
class Asked:
    """One question with everything needed to rank its candidates again under other weights."""

    sample_id: str
    category: int
    text: str
    evidence: tuple[str, ...]
    lists: dict[str, RankedList]
    records: dict[str, MemoryRecord]
    search_ms: float = float("nan")  # Memory.search, embedding the question included
    heads: dict[tuple[tuple[str, float], ...], list[Candidate]] = field(default_factory=dict)
    arrays: dict[tuple[tuple[str, float], ...], Any] = field(default_factory=dict)


def grid(graph: bool = False) -> list[Weights]:
    return [
        Weights(lists={VECTOR: v, KEYWORD: round(1 - v, 2), GRAPH: g}, speaker=s, session=d, dated=t)
        for v, s, d, t, g in itertools.product(
            GRID_VECTOR, GRID_SPEAKER, GRID_SESSION, GRID_DATED, GRID_GRAPH if graph else (0.0,)
        )
    ]


def ingest(memory: Memory, conversation: Conversation, granularity: str) -> int:
    """Add one conversation; returns the number of ``add`` calls."""
    calls = 0
    for i, session in enumerate(conversation.sessions):
        messages = session_messages(conversation, i)
        batches = [messages] if granularity == "session" else [[m] for m in messages]
        for batch in batches:
            memory.add(
                batch,
                user_id=scope_of(conversation),
                infer=False,
                timestamp=session.date,
                metadata={"session": session.number},
            )
            calls += 1
    return calls


def collect(memory: Memory, conversation: Conversation) -> list[Asked]:
    questions = [q for q in conversation.questions if q.category in SCORED_CATEGORIES and q.evidence]
    vectors = memory.embedder.embed_batch([q.question for q in questions], purpose="query")
    query = Query(Scope(user_id=scope_of(conversation)), None, utcnow())
    asked = []
    for question, vector in zip(questions, vectors, strict=True):
        started = time.perf_counter()  # the whole verb, embedding the question included
        memory.search(question.question, user_id=scope_of(conversation), limit=K)
        search_ms = (time.perf_counter() - started) * 1000
        floor = similarity_floor(memory.embedder)
        lists = dict(gather(memory.store, query, question.question, vector, MIN_POOL, floor))
        if memory.graph_settings is not None:  # what Memory.search adds when the graph is on
            match = match_query(memory.store, query.scope, question.question, memory.graph_settings.hops)
            lists[GRAPH] = graph_candidates(memory.store, query, match, limit=MIN_POOL) if match else []
        ids = list(dict.fromkeys(m for ranked in lists.values() for m, _ in ranked))
        records = memory.store.get_memories(ids)
        asked.append(
            Asked(
                conversation.sample_id,
                question.category,
                question.question,
                question.evidence,
                lists,
                records,
                search_ms,
            )
        )
    return asked


def recall(asked: Asked, weights: Weights) -> float:
    """Recall@10 of one question under ``weights``: the ranking ``hybrid_search`` would return."""
    key = tuple(sorted(weights.lists.items()))
    if key not in asked.heads:  # the fused head depends on the list weights only: reused across boosts
        asked.heads[key] = boost_strengths(fuse(asked.lists, weights, max(K, HEAD)), asked.records, asked.text)
    hits = rank_candidates(asked.heads[key], weights)[:K]
    retrieved = [hit.record.metadata.get("source_ids", []) for hit in hits]
    return recall_at_k(retrieved, asked.evidence, K)


def quick_recall(asked: Asked, weights: Weights) -> float:
    """``recall`` in numpy: the same ranking (up to ties between equal scores), fast enough for a grid."""
    key = tuple(sorted(weights.lists.items()))
    if key not in asked.arrays:
        recall(asked, weights)  # fills asked.heads[key]
        candidates = asked.heads[key]
        wanted = set(asked.evidence)
        asked.arrays[key] = (
            np.array([c.fused.score for c in candidates]),
            np.array([[c.boosts[name] for name in BOOSTS] for c in candidates]).reshape(-1, len(BOOSTS)),
            [wanted.intersection(c.record.metadata.get("source_ids", [])) for c in candidates],
        )
    fused, strengths, covers = asked.arrays[key]
    order = np.argsort(-(fused + strengths @ np.array([getattr(weights, name) for name in BOOSTS])), kind="stable")
    covered = set().union(*(covers[i] for i in order[:K]))
    return len(covered) / len(set(asked.evidence))


def measure(
    path: str,
    granularity: str,
    conversations: Sequence[str] | None,
    call_context_only: bool = False,
    graph: bool = False,
    out: str | None = None,
) -> tuple[list[Asked], float]:
    """Ingest every conversation into a fresh store and collect its questions; returns ms per add."""
    data = [c for c in load_locomo(path) if not conversations or c.sample_id in conversations]
    embedder = build_embedder()
    asked: list[Asked] = []
    add_seconds, calls = 0.0, 0
    with tempfile.TemporaryDirectory() as scratch:
        config: dict[str, Any] = {"recent_messages": 0} if call_context_only else {}
        folder = Path(out or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        config["vector_store"] = {"provider": "sqlite", "config": {"path": str(folder / f"{granularity}.db")}}
        if graph:
            config["graph_store"] = {"provider": "sqlite"}
        memory = Memory(config, embedder=embedder)
        for conversation in _bar(data, f"{granularity}: ingest"):
            started = time.perf_counter()
            calls += ingest(memory, conversation, granularity)
            add_seconds += time.perf_counter() - started
            asked += collect(memory, conversation)
        memory.close()
    return asked, add_seconds * 1000 / max(1, calls)


def table(rows: dict[str, dict[str, float]], columns: Sequence[str]) -> str:
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, values in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{values[c]:.3f}" if c in values else "–" for c in columns) + " |")
    return "\n".join(lines)


def by_category(asked: Sequence[Asked], scores: Sequence[float]) -> dict[str, float]:
    out = {}
    for category in SCORED_CATEGORIES:
        values = [s for a, s in zip(asked, scores, strict=True) if a.category == category]
        if values:  # a category without questions is left out
            out[CATEGORIES[category]] = statistics.fmean(values)
    out["all"] = statistics.fmean(scores)
    return out


def cross_validate(asked: list[Asked]) -> tuple[list[float], list[float], list[Weights], Weights]:
    """Per question: the in-sample best setting's recall and the out-of-fold recall."""
    settings = grid(graph=any(a.lists.get(GRAPH) for a in asked))
    scores = [[quick_recall(a, w) for a in asked] for w in _bar(settings, "grid")]
    samples = sorted({a.sample_id for a in asked})

    def best(keep: Iterable[int]) -> int:
        kept = list(keep)
        return max(range(len(settings)), key=lambda s: (sum(scores[s][i] for i in kept), -s))

    everything = best(range(len(asked)))
    out_of_fold = [0.0] * len(asked)
    chosen = []
    for held_out in samples:
        train = [i for i, a in enumerate(asked) if a.sample_id != held_out]
        pick = best(train)
        chosen.append(settings[pick])
        for i, a in enumerate(asked):
            if a.sample_id == held_out:
                out_of_fold[i] = scores[pick][i]
    return scores[everything], out_of_fold, chosen, settings[everything]


def describe(weights: Weights) -> str:
    lists = f"vector {weights.of(VECTOR)} keyword {weights.of(KEYWORD)} graph {weights.of(GRAPH)}"
    return f"{lists} speaker {weights.speaker} session {weights.session} dated {weights.dated}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=str(DEFAULT_DATASET))
    parser.add_argument("--granularity", choices=("session", "turn", "both"), default="both")
    parser.add_argument("--cv", action="store_true", help="tune the weights by leave-one-conversation-out CV")
    parser.add_argument("--conversations", help="comma-separated sample ids (default: all)")
    parser.add_argument(
        "--call-context-only",
        action="store_true",
        help="index each turn with the turns of its own add call only, as engram did before (recent_messages=0)",
    )
    parser.add_argument("--graph", action="store_true", help="turn graph memory on (infer=False: local NER)")
    parser.add_argument("--out", help="folder for the database (default: a temporary one)")
    parser.add_argument("--cache", help="folder keeping each mode's candidates, to re-rank without ingesting")
    args = parser.parse_args()
    conversations = [c for c in (args.conversations or "").split(",") if c] or None
    modes = ("session", "turn") if args.granularity == "both" else (args.granularity,)
    columns = [*(CATEGORIES[c] for c in SCORED_CATEGORIES), "all"]
    for mode in modes:
        asked, add_ms = cached(Path(args.cache) / f"{mode}.pickle", mode) if args.cache else (None, 0.0)
        if asked is None:
            asked, add_ms = measure(args.path, mode, conversations, args.call_context_only, args.graph, args.out)
            if args.cache:
                Path(args.cache).mkdir(parents=True, exist_ok=True)
                (Path(args.cache) / f"{mode}.pickle").write_bytes(pickle.dumps((asked, add_ms)))
        rows = {"defaults": by_category(asked, [recall(a, DEFAULT_WEIGHTS) for a in asked])}
        if args.cv:
            in_sample, out_of_fold, chosen, overall = cross_validate(asked)
            rows["in-sample best"] = by_category(asked, in_sample)
            rows["cross-validated"] = by_category(asked, out_of_fold)
        print(f"\n## one add per {mode}: Recall@{K}, {len(asked)} questions, {add_ms:.1f} ms per add\n")
        print(table(rows, columns))
        latencies = [a.search_ms for a in asked if a.search_ms == a.search_ms]
        if latencies:
            p50, p95 = np.percentile(latencies, [50, 95])
            print(f"\nsearch (with the query embedding): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        if args.cv:
            print(f"\nin-sample best: {describe(overall)}")
            for weights in chosen:
                print(f"fold pick: {describe(weights)}")


def cached(path: Path, mode: str) -> tuple[list[Asked] | None, float]:
    if not path.exists():
        return None, 0.0
    asked, add_ms = pickle.loads(path.read_bytes())  # a file this script wrote
    for question in asked:
        question.heads = {}
        question.arrays = {}
    return asked, add_ms


def _bar(items: Sequence[Any], description: str) -> Iterable[Any]:
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    bar: Iterable[Any] = tqdm(items, desc=description, leave=False)
    return bar


if __name__ == "__main__":
    main()
