"""Candidate generation for the weak categories: what each idea does to LoCoMo Recall@10, cross-validated.

Multi-hop and open-domain questions need evidence spread over sessions, worded unlike the question
("What activities does she do?" against "I went to a pottery class"). Fusion is not their
bottleneck: the first 30 fused memories hold only ~0.64 / ~0.53 of their evidence. This bench tries
ideas that change the candidates, each as one more ranked list fused with the store's two
(``search.fuse``), and tunes each idea's parameters by leave-one-conversation-out cross-validation:

- ``vector PRF``: the query vector moved towards the mean of the first fused hits (Rocchio), searched again;
- ``keyword PRF``: the most distinctive words of the first hits, searched as a second keyword query;
- ``decomposition``: the question split on "and", "or", "besides" and commas, each part searched;
- ``session vector``: each day's turns averaged into one vector; a turn scores as its day does;
- ``speaker pool``: a vector search restricted to the speaker the question names;
- ``sentence max-sim``: each turn split into sentences, scored by its best sentence.

Turns are stored verbatim (``infer=False``), one ``add`` per session, as ``bench_recall.py`` does.

    PYTHONPATH=src .venv/bin/python bench/bench_candidates.py [PATH]

PATH defaults to ../shared/data/locomo-dev.json (CC BY-NC: read from there, never copied here).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench_recall import DEFAULT_DATASET, Asked, _bar, by_category, measure
from engram import Memory
from engram.embedders import build_embedder
from engram.eval.locomo import CATEGORIES, SCORED_CATEGORIES
from engram.models import Scope, utcnow
from engram.search import DEFAULT_WEIGHTS, HEAD, KEYWORD, MIN_POOL, VECTOR, RankedList, Weights, apply_boosts, fuse
from engram.storage.base import Query, query_words

K = 10
_WORD = re.compile(r"[A-Za-z]{3,}")
_PARTS = re.compile(r"\s*(?:,|\band\b|\bor\b|\bbesides\b)\s*", re.IGNORECASE)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\s*\[shares ")


@dataclass
class ScopeData:
    """One conversation's memories as the bench reads them: ids, vectors, texts, days, speakers."""

    ids: list[str]
    vectors: np.ndarray
    texts: list[str]
    days: list[str]
    speakers: list[str]
    sources: list[set[str]]

    def ranked(self, scores: np.ndarray, keep: np.ndarray | None = None, n: int = MIN_POOL) -> RankedList:
        if keep is not None:
            scores = np.where(keep, scores, -np.inf)
        order = np.argsort(-scores, kind="stable")[:n]
        return [(self.ids[i], float(scores[i])) for i in order if np.isfinite(scores[i])]


class Bench:
    def __init__(self, memory: Memory, database: Path, asked: list[Asked]) -> None:
        self.memory = memory
        self.asked = asked
        self.scopes: dict[str, ScopeData] = {}
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            for sample_id in sorted({a.sample_id for a in asked}):
                rows = db.execute(
                    "SELECT id, embedding, memory, created_at, actor_id, metadata FROM memories WHERE user_id = ? "
                    "ORDER BY pk",
                    (f"locomo-{sample_id}",),
                ).fetchall()
                self.scopes[sample_id] = ScopeData(
                    [r[0] for r in rows],
                    np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows]),
                    [r[2] for r in rows],
                    [r[3][:10] for r in rows],
                    [(r[4] or "").lower() for r in rows],
                    [set(json.loads(r[5]).get("source_ids", [])) for r in rows],
                )
        self.index = {sid: {m: i for i, m in enumerate(s.ids)} for sid, s in self.scopes.items()}
        vectors = memory.embedder.embed_batch([a.text for a in asked], purpose="query")
        self.query_vectors = {id(a): v for a, v in zip(asked, vectors, strict=True)}
        self.sentences: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.documents: dict[str, tuple[Counter[str], int]] = {}
        self.days: dict[str, dict[str, tuple[np.ndarray, list[int]]]] = {}

    # -- scoring ----------------------------------------------------------------------------------

    def recall(self, asked: Asked, lists: dict[str, RankedList], weights: Weights) -> float:
        head = fuse(lists, weights, HEAD)
        records = dict(asked.records)
        missing = [f.memory_id for f in head if f.memory_id not in records]
        if missing:
            records.update(self.memory.store.get_memories(missing))
        hits = apply_boosts(head, records, asked.text, weights)[:K]
        scope, index = self.scopes[asked.sample_id], self.index[asked.sample_id]
        covered = set().union(*(scope.sources[index[h.record.id]] for h in hits)) if hits else set()
        wanted = set(asked.evidence)
        return len(wanted & covered) / len(wanted)

    def with_list(self, asked: Asked, name: str, ranked: RankedList, weight: float) -> float:
        weights = Weights(lists={**DEFAULT_WEIGHTS.lists, name: weight})
        return self.recall(asked, {**asked.lists, name: ranked}, weights)

    # -- the ideas ----------------------------------------------------------------------------------

    def vector_prf(self, asked: Asked, hits: int, beta: float) -> float:
        scope, index = self.scopes[asked.sample_id], self.index[asked.sample_id]
        first = [index[f.memory_id] for f in fuse(asked.lists, DEFAULT_WEIGHTS, hits)]
        moved = self.query_vectors[id(asked)] + beta * scope.vectors[first].mean(axis=0)
        moved /= np.linalg.norm(moved)
        lists = {**asked.lists, VECTOR: scope.ranked(scope.vectors @ moved)}
        return self.recall(asked, lists, DEFAULT_WEIGHTS)

    def keyword_prf(self, asked: Asked, weight: float, hits: int = 5, terms: int = 10) -> float:
        scope, index = self.scopes[asked.sample_id], self.index[asked.sample_id]
        if asked.sample_id not in self.documents:  # document frequencies, once per scope
            frequency: Counter[str] = Counter()
            for text in scope.texts:
                frequency.update({w.lower() for w in _WORD.findall(text)})
            self.documents[asked.sample_id] = (frequency, len(scope.texts))
        frequency, total = self.documents[asked.sample_id]
        counts: Counter[str] = Counter()
        for f in fuse(asked.lists, DEFAULT_WEIGHTS, hits):
            counts.update(w.lower() for w in _WORD.findall(scope.texts[index[f.memory_id]]))
        asked_words = set(query_words(asked.text))
        content = [w for w in counts if w not in asked_words and query_words(w)]
        best = sorted(content, key=lambda w: -counts[w] * math.log(total / (1 + frequency[w])))[:terms]
        ranked = self.memory.store.keyword_search(self.query(asked), " ".join(best), MIN_POOL) if best else []
        return self.with_list(asked, "prf", ranked, weight)

    def decomposition(self, asked: Asked, weight: float) -> float:
        parts = [p for p in _PARTS.split(asked.text) if len(p.split()) >= 2]
        if len(parts) < 2:
            return self.recall(asked, asked.lists, DEFAULT_WEIGHTS)
        scope = self.scopes[asked.sample_id]
        lists, weights = dict(asked.lists), dict(DEFAULT_WEIGHTS.lists)
        for i, (part, vector) in enumerate(zip(parts, self.memory.embedder.embed_batch(parts), strict=True)):
            lists[f"vector {i}"] = scope.ranked(scope.vectors @ vector)
            lists[f"keyword {i}"] = self.memory.store.keyword_search(self.query(asked), part, MIN_POOL)
            weights[f"vector {i}"] = weight * DEFAULT_WEIGHTS.of(VECTOR) / len(parts)
            weights[f"keyword {i}"] = weight * DEFAULT_WEIGHTS.of(KEYWORD) / len(parts)
        return self.recall(asked, lists, Weights(lists=weights))

    def session_vector(self, asked: Asked, weight: float) -> float:
        scope = self.scopes[asked.sample_id]
        if asked.sample_id not in self.days:
            rows: dict[str, list[int]] = {}
            for i, day in enumerate(scope.days):
                rows.setdefault(day, []).append(i)
            means = {day: scope.vectors[ix].mean(axis=0) for day, ix in rows.items()}
            self.days[asked.sample_id] = {d: (v / np.linalg.norm(v), rows[d]) for d, v in means.items()}
        scores = np.zeros(len(scope.ids), dtype=np.float32)
        for vector, rows_of_day in self.days[asked.sample_id].values():
            scores[rows_of_day] = float(vector @ self.query_vectors[id(asked)])
        return self.with_list(asked, "day", scope.ranked(scores), weight)

    def speaker_pool(self, asked: Asked, weight: float) -> float:
        scope = self.scopes[asked.sample_id]
        named = {w.lower() for w in re.findall(r"\w+", asked.text)}
        keep = np.array([speaker in named for speaker in scope.speakers])
        if not keep.any():
            return self.recall(asked, asked.lists, DEFAULT_WEIGHTS)
        ranked = scope.ranked(scope.vectors @ self.query_vectors[id(asked)], keep)
        return self.with_list(asked, "speaker", ranked, weight)

    def sentence_max_sim(self, asked: Asked, share: float) -> float:
        """The vector list scored by ``share`` × the whole turn's cosine + the rest × its best sentence's."""
        scope = self.scopes[asked.sample_id]
        if asked.sample_id not in self.sentences:
            owners, pieces = [], []
            for i, text in enumerate(scope.texts):
                body = text.split(": ", 1)[-1]
                for piece in [p.strip() for p in _SENTENCES.split(body) if len(p.strip()) > 3] or [body]:
                    owners.append(i)
                    pieces.append(piece)
            self.sentences[asked.sample_id] = (np.array(owners), self.memory.embedder.embed_batch(pieces))
        owners, vectors = self.sentences[asked.sample_id]
        query = self.query_vectors[id(asked)]
        best = np.full(len(scope.ids), -1.0)
        np.maximum.at(best, owners, vectors @ query)
        scores = share * (scope.vectors @ query) + (1 - share) * best
        return self.recall(asked, {**asked.lists, VECTOR: scope.ranked(scores)}, DEFAULT_WEIGHTS)

    def query(self, asked: Asked) -> Query:
        return Query(Scope(user_id=f"locomo-{asked.sample_id}"), None, utcnow())


Idea = Callable[[Asked], float]


def cross_validate(asked: Sequence[Asked], settings: dict[str, Idea]) -> tuple[list[float], str, list[str]]:
    """Out-of-fold recall per question, each conversation scored with the setting best on the others."""
    scores = {name: [idea(a) for a in asked] for name, idea in _bar(list(settings.items()), "settings")}
    samples = sorted({a.sample_id for a in asked})
    out_of_fold = [0.0] * len(asked)
    picks = []
    for held_out in samples:
        train = [i for i, a in enumerate(asked) if a.sample_id != held_out]
        pick = max(scores, key=lambda name: sum(scores[name][i] for i in train))
        picks.append(pick)
        for i, a in enumerate(asked):
            if a.sample_id == held_out:
                out_of_fold[i] = scores[pick][i]
    in_sample = max(scores, key=lambda name: sum(scores[name]))
    return out_of_fold, in_sample, picks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=str(DEFAULT_DATASET))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        asked, _ = measure(args.path, "session", None, out=scratch)
        database = Path(scratch) / "session.db"
        config: dict[str, Any] = {"vector_store": {"provider": "sqlite", "config": {"path": str(database)}}}
        memory = Memory(config, embedder=build_embedder())
        bench = Bench(memory, database, asked)
        ideas: dict[str, dict[str, Idea]] = {
            "defaults (no new list)": {"-": lambda a: bench.recall(a, a.lists, DEFAULT_WEIGHTS)},
            "vector PRF": {
                f"hits {h} beta {b}": (lambda a, h=h, b=b: bench.vector_prf(a, h, b))
                for h in (3, 5, 10)
                for b in (0.0, 0.3, 0.7)
            },
            "keyword PRF": {f"weight {w}": (lambda a, w=w: bench.keyword_prf(a, w)) for w in (0.0, 0.1, 0.2)},
            "decomposition": {f"weight {w}": (lambda a, w=w: bench.decomposition(a, w)) for w in (0.0, 0.3, 1.0)},
            "session vector": {
                f"weight {w}": (lambda a, w=w: bench.session_vector(a, w)) for w in (0.0, 0.05, 0.1, 0.2, 0.4)
            },
            "speaker pool": {f"weight {w}": (lambda a, w=w: bench.speaker_pool(a, w)) for w in (0.0, 0.1, 0.3)},
            "sentence max-sim": {
                f"turn share {s}": (lambda a, s=s: bench.sentence_max_sim(a, s)) for s in (1.0, 0.7, 0.5, 0.3)
            },
        }
        columns = [*(CATEGORIES[c] for c in SCORED_CATEGORIES), "all"]
        print(f"\nRecall@{K}, {len(asked)} questions, cross-validated (leave one conversation out)\n")
        print("| idea | " + " | ".join(columns) + " | in-sample pick | fold picks |")
        print("|---" * (len(columns) + 3) + "|")
        for name, settings in ideas.items():
            out_of_fold, in_sample, picks = cross_validate(asked, settings)
            row = by_category(asked, out_of_fold)
            cells = " | ".join(f"{row[c]:.3f}" for c in columns)
            print(f"| {name} | {cells} | {in_sample} | {', '.join(picks)} |", flush=True)
        memory.close()


if __name__ == "__main__":
    main()
