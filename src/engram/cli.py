"""The ``engram`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engram.errors import EngramError

DEMO_USER = "engram-demo"
DEMO_CONVERSATION = [
    {"role": "user", "content": "Hi! I'm Maya. I moved to Lisbon last spring and I work as a nurse."},
    {"role": "assistant", "content": "Nice to meet you, Maya! How do you like Lisbon?"},
    {"role": "user", "content": "I love it. I'm vegetarian, so the food took some exploring."},
    {"role": "user", "content": "I'm training for a half marathon in October."},
    {"role": "user", "content": "My sister Ana visits me every summer with her dog Biscuit."},
]
DEMO_QUERIES = ["Where does Maya live?", "Is Maya vegetarian?", "What race is she training for?"]


def demo(args: argparse.Namespace) -> None:
    from engram import Memory

    memory = Memory()
    memory.delete_all(user_id=DEMO_USER)  # the demo starts from a clean slate each time
    added = memory.add(DEMO_CONVERSATION, user_id=DEMO_USER, infer=False, timestamp="2025-06-14T09:30:00Z")
    print(f"Stored {len(added['results'])} memories for {DEMO_USER!r} in {memory.store.location}\n")
    for query in DEMO_QUERIES:
        print(f"? {query}")
        for item in memory.search(query, user_id=DEMO_USER, limit=3)["results"]:
            print(f"  {item['score']:.3f}  {item['created_at'][:10]}  {item['memory']}")
        print()


def eval_locomo(args: argparse.Namespace) -> None:
    from engram.eval.report import RESULTS_MD
    from engram.eval.runner import run_locomo

    conversations = [c.strip() for c in (args.conversations or "").split(",") if c.strip()]
    run = run_locomo(
        args.path,
        args.out,
        conversations=conversations or None,
        infer=args.infer,
        k=args.k,
        answer=args.answer,
        progress=not args.quiet,
    )
    print((run.out_dir / RESULTS_MD).read_text(encoding="utf-8"))
    print(f"Results, plots and the checkpoint are in {run.out_dir}")


def _add_eval_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evaluate = commands.add_parser("eval", help="measure retrieval and answers on a benchmark")
    benchmarks = evaluate.add_subparsers(dest="benchmark", required=True)
    locomo = benchmarks.add_parser("locomo", help="LoCoMo-format conversations (JSON)")
    locomo.add_argument("path", help="the LoCoMo JSON file")
    locomo.add_argument(
        "--out", default="locomo-eval", help="output folder; run again to resume (default: %(default)s)"
    )
    locomo.add_argument("--conversations", help="comma-separated sample ids (default: all)")
    locomo.add_argument("--infer", action="store_true", help="extract facts with the LLM while adding")
    locomo.add_argument("-k", "--k", type=int, default=10, help="memories given to the answering LLM")
    locomo.add_argument("--answer", action="store_true", help="answer and judge each question with the LLM")
    locomo.add_argument("--quiet", action="store_true", help="no progress bar")
    locomo.set_defaults(run=eval_locomo)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="engram", description="Long-term memory for AI agents.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="store a sample conversation and search it").set_defaults(run=demo)
    _add_eval_commands(commands)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except EngramError as exc:
        print(f"engram: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

