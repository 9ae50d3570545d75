"""What each guard of the add pipeline costs a capable model: the ideal run with each guard off.

The guards exist for small models (they refuse a misjudgement so that it costs a missed fact, never a
destroyed one); a guard that also refuses a capable model's right decision lowers the ceiling. This
replays the hand-written capable model (tests/data/ideal-answers-dev.json, ``engram.eval.ideal``)
on the 16 dev scenarios, once as shipped and once per guard switched off, and prints the pass rate
per kind of probe.

    PYTHONPATH=src python bench/bench_ideal_guards.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from engram import Memory
from engram.embedders import build_embedder
from engram.eval.ideal import IdealModel
from engram.eval.updates import KINDS, load_scenarios, run_updates, summary_of
from engram.pipeline import decide, forget, guards, inferred

DATA = Path(__file__).parent.parent / "tests" / "data"


@contextlib.contextmanager
def patched(target: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, old)


def all_allowed(embedder: Any, facts: Any, shown: Any) -> list[set[int]]:
    return [set(range(len(shown))) for _ in facts]


VARIANTS: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {
    "as shipped": contextlib.nullcontext,
    "subject test off": lambda: patched(decide, "same_subject", all_allowed),
    "forget gate off": lambda: patched(forget, "asks_to_forget", lambda texts: True),
    "said-in-its-add check off": lambda: patched(inferred, "drop_unsaid", lambda actions: (list(actions), [])),
    "supersede by attribute off": lambda: patched(decide, "supersede", lambda index, actions, c, n: list(actions)),
    "named-forget check off": lambda: patched(forget, "FORGET_NAMED", -1.0),
    "uncovered sentences not kept": lambda: patched(inferred, "uncovered", lambda embedder, spoken, facts: []),
    "subject threshold 0.27 -> 0.5": lambda: patched(guards, "SUBJECT_THRESHOLD", 0.5),
}


def run(name: str, embedder: Any) -> dict[str, Any]:
    scenarios = load_scenarios(DATA / "memory-updates-dev.json")
    model = IdealModel.from_file(DATA / "ideal-answers-dev.json", scenarios)
    with tempfile.TemporaryDirectory() as out, VARIANTS[name]():
        config = {"vector_store": {"provider": "sqlite", "config": {"path": f"{out}/engram.db"}}}
        with Memory(config, embedder=embedder, llm=model) as memory:
            result = run_updates(DATA / "memory-updates-dev.json", out, memory=memory, progress=False)
        return summary_of(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(VARIANTS), help="some variants only")
    args = parser.parse_args()
    embedder = build_embedder()
    print("| variant | " + " | ".join(KINDS) + " | overall |")
    print("|---|" + "---:|" * (len(KINDS) + 1))
    for name in args.only or VARIANTS:
        summary = run(name, embedder)
        cells = [f"{summary['by_kind'][k]['passed']}/{summary['by_kind'][k]['probes']}" for k in KINDS]
        print(f"| {name} | " + " | ".join(cells) + f" | {summary['overall']['pass_rate']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
