"""A real add -> update -> search cycle on an offline model (slow: run with ``-m slow -s``).

It prints seconds per add and what the model decided, for the notes on how the
small models behave; it asserts what must hold whatever the model's quality:
valid structured answers, memories stored, tokens counted, the update path taken.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import pytest

from engram import Memory
from engram.embedders.local_minilm import LocalMiniLM
from engram.llms import build_llm
from engram.llms.local import PACKAGED_MODELS

CONVERSATION = [
    [
        {"role": "user", "content": "Hi, I'm Maria. I live in Berlin and I work as a nurse at the Charité."},
        {"role": "assistant", "content": "Nice to meet you, Maria!"},
    ],
    [{"role": "user", "content": "I love strong black coffee every morning, and I'm allergic to peanuts."}],
    [{"role": "user", "content": "Big news: I moved from Berlin to Munich last month for a new job."}],
    [{"role": "user", "content": "I quit coffee. These days I only drink green tea."}],
]


def installed(name: str) -> bool:
    return importlib.util.find_spec("xllamacpp") is not None and all(
        importlib.util.find_spec(package) is not None for package in PACKAGED_MODELS[name].packages
    )


@pytest.mark.slow
@pytest.mark.parametrize("model", ["smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
def test_add_update_search_cycle_offline(model: str, tmp_path: Path, embedder: LocalMiniLM) -> None:
    if not installed(model):
        pytest.skip(f"{model} is not installed (engram[{PACKAGED_MODELS[model].extra}])")
    # One thread: on a shared 2-core machine a second llama.cpp thread mostly waits (FINDINGS.md).
    threads = int(os.environ.get("ENGRAM_TEST_THREADS", "1"))
    llm = build_llm("local", {"model": model, "threads": threads, "max_tokens": 300})
    config = {"vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "offline.db")}}}
    with Memory(config, embedder=embedder, llm=llm) as memory:
        timings: list[float] = []
        for turn in CONVERSATION:
            started = time.monotonic()
            result = memory.add(turn, user_id="maria")
            timings.append(time.monotonic() - started)
            print(f"\n[{model}] {timings[-1]:.1f}s {turn[0]['content']!r}")
            for item in result["results"]:
                print(
                    f"    {item['event']:6} {item['memory']!r}"
                    + (f" (was {item['previous_memory']!r})" if item.get("previous_memory") else "")
                )
            for warning in result.get("warnings", []):
                print(f"    warning: {warning}")
            assert result["usage"]["prompt_tokens"] > 0 and result["usage"]["completion_tokens"] > 0
            assert all(item["memory"].strip() for item in result["results"])

        stored = [item["memory"] for item in memory.get_all(user_id="maria")["results"]]
        hits = memory.search("Which city does Maria live in?", user_id="maria", limit=3)["results"]
        per_add = ", ".join(f"{t:.1f}" for t in timings)
        print(f"[{model}] seconds per add: {per_add} (mean {sum(timings) / len(timings):.1f})")
        print(f"[{model}] stored: {stored}")
        print(f"[{model}] top hits for 'Which city does Maria live in?': {[h['memory'] for h in hits]}")
        print(f"[{model}] usage: {memory.usage.as_dict()}")

        assert stored, "the model extracted no fact from four fact-laden messages"
        assert hits
        assert memory.usage.stages and dict(memory.usage.stages)["extract"][0] == len(CONVERSATION)
