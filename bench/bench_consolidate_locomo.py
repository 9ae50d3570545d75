"""consolidate() on LoCoMo memories made with infer=True: how many it merges, and whether retrieval
drops. A few sessions of one conversation are added with the offline model (slow: run it in the
background), then Recall@10 of the questions whose evidence lies in those sessions is measured
before and after consolidating with the same model. Resumable: the store is kept in --out.

    python bench/bench_consolidate_locomo.py --sessions 3 --model qwen2.5-coder-0.5b
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from engram import Memory
from engram.eval.locomo import SCORED_CATEGORIES, Conversation, load_locomo
from engram.eval.metrics import mean, recall_at_k
from engram.eval.runner import scope_of, session_messages

DATA = Path("/work/shared/data/locomo-dev.json")  # LoCoMo is CC BY-NC: read in place, never copied


def recall(memory: Memory, conversation: Conversation, dia_ids: set[str], k: int = 10) -> tuple[float, int]:
    scores = []
    for question in conversation.questions:
        if question.category in SCORED_CATEGORIES and question.evidence and set(question.evidence) <= dia_ids:
            items = memory.search(question.question, user_id=scope_of(conversation), limit=k)["results"]
            retrieved = [list(item.get("metadata", {}).get("source_ids", [])) for item in items]
            scores.append(recall_at_k(retrieved, question.evidence, k))
    return mean(scores), len(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--conversation", help="sample id (default: the file's first)")
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--out", type=Path, default=Path("consolidate-locomo"))
    args = parser.parse_args()
    conversations = load_locomo(args.data)
    conversation = next(c for c in conversations if args.conversation in (None, c.sample_id))
    args.out.mkdir(parents=True, exist_ok=True)
    config = {
        "llm": {"provider": "local", "config": {"model": args.model}},
        "vector_store": {"provider": "sqlite", "config": {"path": str(args.out / "engram.db")}},
    }
    done_file = args.out / "sessions-added.json"
    done = json.loads(done_file.read_text()) if done_file.exists() else []
    with Memory(config) as memory:
        sessions = list(range(min(args.sessions, len(conversation.sessions))))
        for i in sessions:
            if i in done:
                continue
            started = time.perf_counter()
            session = conversation.sessions[i]
            memory.add(session_messages(conversation, i), user_id=scope_of(conversation), infer=True,
                       timestamp=session.date, metadata={"session": session.number})  # fmt: skip
            done.append(i)
            done_file.write_text(json.dumps(done))
            print(f"added session {session.number} in {time.perf_counter() - started:.0f} s", flush=True)
        dia_ids = {turn.dia_id for i in sessions for turn in conversation.sessions[i].turns}
        before_count = memory.stats(user_id=scope_of(conversation))["memories"]
        before, questions = recall(memory, conversation, dia_ids)
        started = time.perf_counter()
        result = memory.consolidate(user_id=scope_of(conversation))
        seconds = time.perf_counter() - started
        after, _ = recall(memory, conversation, dia_ids)
        after_count = memory.stats(user_id=scope_of(conversation))["memories"]
    print(f"\n{conversation.sample_id}, sessions 1-{len(sessions)}, {args.model}, {questions} questions")
    print(f"memories: {before_count} -> {after_count} ({result['merged']} merged into {len(result['results'])}) "
          f"in {seconds:.0f} s, {result.get('usage', {}).get('calls', 0)} LLM calls")  # fmt: skip
    print(f"Recall@10: {before:.3f} -> {after:.3f}")
    for merge in result["results"]:
        print(f"  {merge['memory']!r} <- {len(merge['merged_ids'])} more")
    for warning in result.get("warnings", []):
        print(f"  warning: {warning}")


if __name__ == "__main__":
    main()
