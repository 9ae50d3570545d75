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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="engram", description="Long-term memory for AI agents.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="store a sample conversation and search it").set_defaults(run=demo)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except EngramError as exc:
        print(f"engram: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

