"""What search's episodes add when extraction keeps little: LoCoMo Recall@k with infer=True.

A small offline model keeps a few facts of a 20-turn session; the turns themselves stay as episodes.
This reads a database that ``engram eval locomo --infer --out DIR`` filled and scores each question
(categories 1-4) three ways, at the same budget of items shown to an answering LLM:

- ``facts``: ``search(q, limit=k)``, what the results cover (their verified ``source_ids``);
- ``facts + episodes``: ``search(q, limit=k - e, episodes=e)``: the best facts, then the best
  messages that no returned fact came from (an episode covers its own turn);
- ``episodes only``: the scope's ``e = k`` best-matching messages, no facts.

    .venv/bin/engram eval locomo ../shared/data/locomo-dev.json --infer --conversations conv-30 \\
        --config qwen05.json --out runs/infer05
    PYTHONPATH=src .venv/bin/python bench/bench_episodes.py runs/infer05 [PATH] [--k 10]

PATH defaults to ../shared/data/locomo-dev.json (CC BY-NC: read from there, never copied here).
Only conversations the database holds are scored.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from engram import Memory
from engram.eval.locomo import CATEGORIES, SCORED_CATEGORIES, Conversation, load_locomo
from engram.eval.metrics import recall_at_k
from engram.eval.runner import DB_NAME, scope_of
from engram.models import Scope, iso, utcnow
from engram.search import said_beyond
from engram.storage.base import Query

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo-dev.json"


def turn_ids(conversation: Conversation) -> dict[tuple[str, int], str]:
    """(session time, position in its add) -> dialog id: an episode's turn, as the eval added it."""
    return {
        (iso(session.date if session.date.tzinfo else session.date.replace(tzinfo=UTC)), position): turn.dia_id
        for session in conversation.sessions
        for position, turn in enumerate(session.turns)
    }


def covered(items: Sequence[dict[str, Any]], turns: dict[tuple[str, int], str]) -> list[list[str]]:
    """What each shown item covers: a fact its source turns, an episode its own turn."""
    out = []
    for item in items:
        if "content" in item:  # an episode
            key = (item["created_at"], item["position"])
            out.append([turns[key]] if key in turns else [])
        else:
            out.append(list(item.get("metadata", {}).get("source_ids", [])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="the --out folder of `engram eval locomo --infer`")
    parser.add_argument("path", nargs="?", default=str(DEFAULT_DATASET))
    parser.add_argument("--k", type=int, default=10, help="items shown per question")
    args = parser.parse_args()
    k = args.k
    ways = {
        "facts": (k, 0),
        **{f"facts {k - e} + episodes {e}": (k - e, e) for e in (k // 5, k // 2)},
        "episodes only": (0, k),
    }
    memory = Memory({"vector_store": {"provider": "sqlite", "config": {"path": str(Path(args.run) / DB_NAME)}}})
    scores: dict[str, dict[int, list[float]]] = {way: {c: [] for c in SCORED_CATEGORIES} for way in ways}
    facts_kept = 0
    for conversation in load_locomo(args.path):
        scope = Scope(user_id=scope_of(conversation))
        if not memory.store.list_episodes(scope, limit=1):
            continue
        facts_kept += len(memory.get_all(user_id=scope.user_id, limit=10_000)["results"])
        turns = turn_ids(conversation)
        for question in conversation.questions:
            if question.category not in SCORED_CATEGORIES or not question.evidence:
                continue
            for way, (facts, episodes) in ways.items():
                if facts:
                    found = memory.search(question.question, user_id=scope.user_id, limit=facts, episodes=episodes)
                    items = found["results"] + found.get("episodes", [])
                else:
                    query = Query(scope, None, utcnow())
                    items = said_beyond(memory.store, query, question.question, (), episodes)
                scores[way][question.category].append(recall_at_k(covered(items, turns), question.evidence, k))
    questions = sum(len(v) for v in scores["facts"].values())
    print(f"\n{questions} questions; {facts_kept} facts kept in the scored scopes; Recall@{k}\n")
    columns = [CATEGORIES[c] for c in SCORED_CATEGORIES]
    print("| shown | " + " | ".join(columns) + " | all |")
    print("|---" * (len(columns) + 2) + "|")
    for way, by_category in scores.items():
        cells = [f"{statistics.fmean(v):.3f}" if v else "–" for v in by_category.values()]
        overall = statistics.fmean([s for v in by_category.values() for s in v]) if questions else 0.0
        print(f"| {way} | " + " | ".join(cells) + f" | {overall:.3f} |")
    memory.close()


if __name__ == "__main__":
    main()
