"""Relations per add with an offline model and the graph on, on the memory-updates dev scenarios.

Every session of each chosen scenario is one ``add`` (infer=True, the session's time as
``timestamp``) into a fresh SQLite store with ``graph_store`` on. For each add it records what the
model's extraction answer held under ``relations`` (before any check) and what the add stored
(``relations.added_entities``; with the offline relation patterns as the fallback, those count too).
With ``--infer-false`` the same adds run without a model.
One JSON line per add goes to ``--out`` (appended, so an interrupted run can be read as it is).

    PYTHONPATH=src /work/main/.venv/bin/python bench/bench_graph_offline.py \\
        --model qwen2.5-coder-1.5b --scenarios 4 --out /tmp/graph-1.5b.jsonl
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engram import Memory
from engram.eval.updates import Scenario, load_scenarios
from engram.llms.base import LLM, ChatMessage, Completion
from engram.llms.local import LocalLLM
from engram.pipeline.parsing import parse_json_answer

DATASET = Path(__file__).resolve().parents[1] / "tests" / "data" / "memory-updates-dev.json"


class RecordingLLM:
    """Passes calls through and keeps the answers, to read what the model said about relations."""

    def __init__(self, llm: LLM) -> None:
        self._llm = llm
        self.answers: list[str] = []
        self.provider = getattr(llm, "provider", "local")
        self.model_name = getattr(llm, "model_name", "?")

    def complete(self, messages: list[ChatMessage], *, json_schema: dict[str, Any] | None = None) -> Completion:
        completion = self._llm.complete(messages, json_schema=json_schema)
        self.answers.append(completion.text)
        return completion


def said_relations(answers: Sequence[str]) -> list[Any]:
    """The items of every ``relations`` list in the model's answers, as the model wrote them."""
    found: list[Any] = []
    for text in answers:
        answer = parse_json_answer(text)
        if isinstance(answer, dict) and isinstance(answer.get("relations"), list):
            found += answer["relations"]
    return found


def run_scenario(scenario: Scenario, llm: RecordingLLM | None, workdir: Path) -> list[dict[str, Any]]:
    """Each session as one add; without ``llm``, with infer=False."""
    rows = []
    store = {"provider": "sqlite", "config": {"path": str(workdir / f"{scenario.id}.db")}}
    with Memory({"graph_store": {"provider": "sqlite"}, "vector_store": store}, llm=llm) as memory:
        for index, (timestamp, messages) in enumerate(scenario.sessions):
            if llm is not None:
                llm.answers.clear()
            started = time.perf_counter()
            result = memory.add(list(messages), **scenario.scope, timestamp=timestamp, infer=llm is not None)
            relations = result.get("relations", {"added_entities": [], "deleted_entities": []})
            rows.append(
                {
                    "scenario": scenario.id,
                    "session": index,
                    "seconds": round(time.perf_counter() - started, 1),
                    "memories": sum(r["event"] in ("ADD", "UPDATE") for r in result["results"]),
                    "model_relations": said_relations(llm.answers) if llm is not None else [],
                    "added": [[r["source"], r["relationship"], r["destination"]] for r in relations["added_entities"]],
                    "retired": [
                        [r["source"], r["relationship"], r["destination"]] for r in relations["deleted_entities"]
                    ],
                    "warnings": result.get("warnings", []),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--infer-false", action="store_true", help="no model: every add with infer=False")
    parser.add_argument("--scenarios", type=int, default=4, help="the first N dev scenarios")
    parser.add_argument("--skip", type=int, default=0, help="start after the first K scenarios")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    llm = None if args.infer_false else RecordingLLM(LocalLLM(model=args.model))
    scenarios = load_scenarios(DATASET)[args.skip : args.skip + args.scenarios]
    with tempfile.TemporaryDirectory() as workdir:
        for scenario in scenarios:
            for row in run_scenario(scenario, llm, Path(workdir)):
                with args.out.open("a", encoding="utf-8") as sink:
                    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                print(json.dumps(row, ensure_ascii=False), flush=True)
    summarise(args.out)


def summarise(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    adds = len(rows)
    said = sum(len(r["model_relations"]) for r in rows)
    added = sum(len(r["added"]) for r in rows)
    print(f"{adds} adds over {len({r['scenario'] for r in rows})} scenarios")
    print(f"relations in the model's answers: {said} ({said / max(adds, 1):.2f} per add)")
    print(f"relations stored (added_entities): {added} ({added / max(adds, 1):.2f} per add)")
    print(f"adds with at least one stored relation: {sum(bool(r['added']) for r in rows)}")
    print(f"seconds per add: {sum(r['seconds'] for r in rows) / max(adds, 1):.0f}")


if __name__ == "__main__":
    main()
