"""What the memory manager stores: facts per add, their length, and how many are copied turns.

Reads a store written by ``engram eval updates`` (its ``engram.db`` and ``checkpoint.json``), or
adds the first sessions of one LoCoMo conversation with an LLM and reads that. Printed:

- adds, and memories written per add (ADD and UPDATE events; and those kept as said, ``role`` set);
- extracted facts: count, mean and median length in characters;
- the verbatim-copy rate: extracted facts whose text is (nearly) a whole message of their scope
  (difflib ratio >= ``COPY_RATIO`` against a message, or against one of its sentences when the fact
  is as long as the message), the small-model failure that stores a turn, or several facts, as one.

    PYTHONPATH=src python bench/bench_fact_shape.py --run updates-run-folder
    PYTHONPATH=src python bench/bench_fact_shape.py --locomo ../shared/data/locomo-dev.json \\
        --conversation conv-30 --sessions 4 --config cfg-1.5b.json --out shape-run
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import statistics
import time
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

COPY_RATIO = 0.8
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def normal(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def copied(fact: str, messages: list[str]) -> bool:
    """Whether the fact is (nearly) a whole message, or a whole sentence of one."""
    wanted = normal(fact)
    pieces = [normal(m) for m in messages] + [normal(s) for m in messages for s in _SENTENCE_END.split(m)]
    return any(
        len(piece) >= 20 and SequenceMatcher(None, wanted, piece, autojunk=False).ratio() >= COPY_RATIO
        for piece in pieces
        if abs(len(piece) - len(wanted)) <= max(len(piece), len(wanted)) * 0.3
    )


def shape(db: Path, adds: list[dict[str, Any]]) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        facts = conn.execute("SELECT memory, user_id, agent_id FROM memories WHERE role IS NULL").fetchall()
        facts += conn.execute("SELECT memory, user_id, agent_id FROM memory_versions WHERE role IS NULL").fetchall()
        said = conn.execute("SELECT count(*) FROM memories WHERE role IS NOT NULL").fetchone()[0]
        messages: dict[tuple[Any, Any], list[str]] = {}
        for content, user, agent in conn.execute("SELECT content, user_id, agent_id FROM episodes"):
            messages.setdefault((user, agent), []).append(content)
    lengths = [len(text) for text, _, _ in facts]
    copies = sum(copied(text, messages.get((user, agent), [])) for text, user, agent in facts)
    count = len(adds) or 1
    written = sum(a["events"].get("ADD", 0) + a["events"].get("UPDATE", 0) for a in adds)
    return {
        "adds": len(adds),
        "memories written per add": round(written / count, 2),
        "kept as said per add": round(said / count, 2),
        "extracted facts": len(facts),
        "mean fact length": round(statistics.fmean(lengths), 1) if lengths else 0,
        "median fact length": statistics.median(lengths) if lengths else 0,
        "verbatim-copy rate": round(copies / len(facts), 3) if facts else 0.0,
        "seconds per add": round(sum(a.get("seconds", 0) for a in adds) / count, 1),
    }


def run_locomo(args: argparse.Namespace) -> tuple[Path, list[dict[str, Any]]]:
    from engram import Memory
    from engram.config import load_config_file
    from engram.eval.locomo import load_locomo
    from engram.eval.runner import scope_of, session_messages

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    [conversation] = [c for c in load_locomo(args.locomo) if c.sample_id == args.conversation]
    config = load_config_file(Path(args.config)) if args.config else {}
    store = {"provider": "sqlite", "config": {"path": str(out / "engram.db")}}
    adds = []
    with Memory({**config, "vector_store": store}) as memory:
        for index in range(min(args.sessions, len(conversation.sessions))):
            started = time.perf_counter()
            result = memory.add(
                session_messages(conversation, index),
                user_id=scope_of(conversation),
                timestamp=conversation.sessions[index].date,
            )
            events: dict[str, int] = {}
            for item in result["results"]:
                events[item["event"]] = events.get(item["event"], 0) + 1
            adds.append({"events": events, "seconds": time.perf_counter() - started})
            print(f"session {index}: {events} in {adds[-1]['seconds']:.0f} s", flush=True)
    return out / "engram.db", adds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="an engram eval updates output folder")
    parser.add_argument("--locomo", help="a LoCoMo JSON file (read where it is; never copied)")
    parser.add_argument("--conversation", default="conv-30")
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--config", help="a Memory config file: the LLM")
    parser.add_argument("--out", default="fact-shape-run")
    args = parser.parse_args()
    if args.run:
        folder = Path(args.run)
        adds = json.loads((folder / "checkpoint.json").read_text(encoding="utf-8"))["adds"]
        db = folder / "engram.db"
    else:
        db, adds = run_locomo(args)
    print(json.dumps(shape(db, adds), indent=1))


if __name__ == "__main__":
    main()
