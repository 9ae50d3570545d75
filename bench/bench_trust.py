"""Injection attempts stored as facts, before and after trust by source (docs/privacy.md).

    .venv/bin/python bench/bench_trust.py                                   # the scripted obeying model
    .venv/bin/python bench/bench_trust.py --model qwen2.5-coder-1.5b --sample 24   # the offline model

Each item of ``bench/data/injection_set.json`` is added (``infer=True``, a fresh scope each) as a
two-message conversation: the user asks for help, and the item's text follows as what its source
said (a tool result, a pasted document: a user message named ``attachment``, or an assistant turn).
"Stored" counts the items that left at least one memory drawn from that message (``sources``
naming its source); injections should leave none, benign items should be kept.

- ``before``: ``"trust": {"drop_instructions": false}`` (what engram did before trust by source);
- ``after``: the default (``drop_instructions``: true, facts from the user only).

The scripted model plays a model that obeys: it copies the message into a fact and cites the
user's message as its source (as an obeying model would, to launder it). With ``--model``, the
offline model answers the ``before`` run; its answers are recorded and replayed for the ``after``
run, so that both judge the same answers (a local model is slow, and sampling would differ anyway).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engram import Memory
from engram.embedders import build_embedder
from engram.llms import LLM, build_llm
from engram.llms.base import ChatMessage, Completion
from engram.llms.scripted import ScriptedLLM

ITEMS = Path(__file__).resolve().parent / "data" / "injection_set.json"
ASKED = "Can you go through this for me?"
BEFORE = {"trust": {"drop_instructions": False}}
AFTER: dict[str, Any] = {}
SOURCES = {  # how each source of the set arrives in a conversation
    "tool": {"role": "tool", "name": "crm_lookup"},
    "document": {"role": "user", "name": "attachment"},
    "assistant": {"role": "assistant"},
}


def conversation(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": ASKED}, {**SOURCES[item["source"]], "content": item["text"]}]


def obeying(messages: list[ChatMessage]) -> str:
    """Copies the second message into a fact and cites the user's message for it."""
    said = str(messages[-1]["content"]).split("\n[1] ", 1)[1].split(": ", 1)[1]
    return json.dumps({"facts": [{"text": said, "sources": [0]}], "forget": []})


class Recording:
    """An LLM that passes every call to ``inner`` and keeps its answers, per item."""

    def __init__(self, inner: LLM) -> None:
        self.inner = inner
        self.answers: list[str] = []
        self.model_name = getattr(inner, "model_name", "recorded")

    def complete(self, messages: list[ChatMessage], *, json_schema: dict[str, Any] | None = None) -> Completion:
        completion = self.inner.complete(messages, json_schema=json_schema)
        self.answers.append(completion.text)
        return completion


def stored_from_source(memory: Memory, user_id: str, source: str) -> list[str]:
    """The memories of the scope drawn from a message of ``source``."""
    return [item["memory"] for item in memory.get_all(user_id=user_id)["results"] if source in item.get("sources", [])]


def run(items: list[dict[str, Any]], settings: dict[str, Any], llm_for: Callable[[int], LLM]) -> dict[int, list[str]]:
    """Each item added in its own scope; what each left stored from its non-user message."""
    left: dict[int, list[str]] = {}
    with tempfile.TemporaryDirectory() as folder:
        store = {"provider": "sqlite", "config": {"path": f"{folder}/bench.db"}}
        embedder = build_embedder()
        for item in items:
            config = {"vector_store": store, **settings}
            with Memory(config, embedder=embedder, llm=llm_for(item["id"])) as memory:
                user = f"item-{item['id']}"
                memory.add(conversation(item), user_id=user)
                left[item["id"]] = stored_from_source(memory, user, item["source"])
    return left


def table(items: list[dict[str, Any]], before: dict[int, list[str]], after: dict[int, list[str]]) -> None:
    print("| items | count | stored before | stored after |")
    print("|---|---:|---:|---:|")
    for label, wanted in (("injection attempts", True), ("benign", False)):
        for source in ("tool", "document", "assistant", "all"):
            chosen = [i for i in items if i["instruction"] == wanted and source in (i["source"], "all")]
            kept_before = sum(1 for i in chosen if before[i["id"]])
            kept_after = sum(1 for i in chosen if after[i["id"]])
            print(f"| {label}, {source} | {len(chosen)} | {kept_before} | {kept_after} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="an offline model (the local provider) instead of the scripted one")
    parser.add_argument("--sample", type=int, help="this many injections and as many benign items (seed 0)")
    args = parser.parse_args()
    items = json.loads(ITEMS.read_text())["items"]
    if args.sample:
        chooser = random.Random(0)
        attacks = [i for i in items if i["instruction"]]
        benign = [i for i in items if not i["instruction"]]
        items = chooser.sample(attacks, min(args.sample, len(attacks))) + chooser.sample(benign, args.sample)
    started = time.perf_counter()
    if args.model:
        model = build_llm("local", {"model": args.model})
        recorded: dict[int, Recording] = {}

        def recording(item_id: int) -> LLM:
            recorded[item_id] = Recording(model)
            return recorded[item_id]

        before = run(items, BEFORE, recording)
        after = run(items, AFTER, lambda item_id: ScriptedLLM(recorded[item_id].answers))
        what = f"`{args.model}` (its answers to the before run, replayed)"
    else:
        before = run(items, BEFORE, lambda _: ScriptedLLM([obeying]))
        after = run(items, AFTER, lambda _: ScriptedLLM([obeying]))
        what = "the scripted obeying model"
    print(f"## Injection attempts stored as facts: {what}, {len(items)} items\n")
    table(items, before, after)
    dropped = Counter(i["source"] for i in items if not i["instruction"] and before[i["id"]] and not after[i["id"]])
    print(f"\nbenign items dropped by trust, per source: {dict(dropped) or 'none'}")
    for item in items:
        if item["instruction"] and after[item["id"]]:
            print(f"injection {item['id']} ({item['split']}, {item['source']}) stored after: {after[item['id']]}")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
