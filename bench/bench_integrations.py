"""What each framework integration adds to a call, over calling ``Memory`` directly.

    .venv/bin/python bench/bench_integrations.py [--calls N] [--memories N]

One SQLite store with the default local embedder holds ``--memories`` memories of one user, put through
the LangGraph store (so that every entry point searches the same memories). Each row
times one entry point the way an application or an agent calls it, ``--calls`` times after a warm-up,
and prints the median per call, its ratio to the baseline it wraps (``Memory.search`` / ``Memory.add``
for sync paths, ``AsyncMemory.search`` for async ones, all measured in the same process) and the
difference in milliseconds. Timings on a shared machine vary: compare rows of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.tool_context import ToolContext
from pydantic_ai import RunContext
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RunUsage

from engram import AsyncMemory, Memory
from engram.embedders.local_minilm import LocalMiniLM
from engram.integrations.adk import EngramMemoryService
from engram.integrations.langchain import EngramRetriever, memory_tools
from engram.integrations.langgraph import EngramStore
from engram.integrations.openai_agents import memory_tools as agents_tools
from engram.integrations.pydantic_ai import EngramToolset

QUERY = "what does the user like to eat?"
USER = "bench-user"
APP = "bench-app"  # the agent id: LangGraph's store and ADK's app name
WARM_UP = 5  # rounds before timing
TOPICS = ("food", "travel", "work", "family", "music", "sport", "books", "health")


@dataclass
class EntryPoint:
    name: str
    call: Callable[[], Any]  # returns a result, or an awaitable for an async entry point
    baseline: str  # the name of the entry point it wraps
    times: list[float] = field(default_factory=list)


async def timed_rounds(entries: list[EntryPoint], rounds: int) -> None:
    """Each round calls every entry point once, in turn: a change of load on the machine hits all rows alike."""
    for round_number in range(WARM_UP + rounds):
        for entry in entries:
            started = time.perf_counter()
            result = entry.call()
            if inspect.isawaitable(result):
                await result
            if round_number >= WARM_UP:
                entry.times.append(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--memories", type=int, default=500)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        config = {"vector_store": {"provider": "sqlite", "config": {"path": str(Path(scratch) / "bench.db")}}}
        embedder = LocalMiniLM()
        memory = Memory(config, embedder=embedder)
        amemory = AsyncMemory(config, embedder=embedder)
        store = EngramStore(memory, user_at=1, agent_id=APP)
        namespace = ("memories", USER)
        for i in range(args.memories):
            store.put(
                namespace, f"k{i}", {"data": f"The user said something about {TOPICS[i % len(TOPICS)]}, note {i}"}
            )
        search_tool = memory_tools(memory, user_id=USER)[0]
        retriever = EngramRetriever(memory=memory, user_id=USER)
        pydantic_search = EngramToolset(amemory).tools["search_memory"]
        context = RunContext(deps={"user_id": USER}, model=TestModel(), usage=RunUsage())
        agents_search = agents_tools(amemory)[0]
        arguments = json.dumps({"query": QUERY})
        tool_context = ToolContext(
            {"user_id": USER}, tool_name="search_memory", tool_call_id="c", tool_arguments=arguments
        )
        adk = EngramMemoryService(amemory)
        counter = iter(range(10**9))

        search = {"query": QUERY, "limit": 5}
        direct, adirect = "Memory.search", "AsyncMemory.search"
        levels = {"langgraph.ns.0": namespace[0], "langgraph.ns.1": namespace[1]}
        scoped = {"user_id": USER, "agent_id": APP, "filters": levels}
        searches = [
            EntryPoint(direct, lambda: memory.search(user_id=USER, **search), direct),
            EntryPoint(adirect, lambda: amemory.search(user_id=USER, **search), adirect),
            # What the store asks of engram: the namespace as metadata equalities (attributes its overhead).
            EntryPoint("Memory.search with the store's filters", lambda: memory.search(**scoped, **search), direct),
            EntryPoint("LangGraph EngramStore.search", lambda: store.search(namespace, **search), direct),
            EntryPoint("LangGraph EngramStore.asearch", lambda: store.asearch(namespace, **search), adirect),
            EntryPoint("LangChain search_memory tool", lambda: search_tool.invoke({"query": QUERY}), direct),
            EntryPoint("LangChain EngramRetriever", lambda: retriever.invoke(QUERY), direct),
            EntryPoint("pydantic-ai search_memory tool", lambda: pydantic_search.function(context, QUERY), adirect),  # type: ignore[call-arg]
            EntryPoint(
                "OpenAI Agents search_memory tool",
                lambda: agents_search.on_invoke_tool(tool_context, arguments),
                adirect,
            ),
            EntryPoint(
                "ADK search_memory", lambda: adk.search_memory(app_name=APP, user_id=USER, query=QUERY), adirect
            ),
        ]
        asyncio.run(timed_rounds(searches, args.calls))
        # Writes after the searches, which they would otherwise slow down by growing the store.
        add = "Memory.add (infer=False)"
        writes = [
            EntryPoint(add, lambda: memory.add(f"note {next(counter)}", user_id=USER, infer=False), add),
            EntryPoint(
                "LangGraph EngramStore.put (new key)",
                lambda: store.put(namespace, f"n{next(counter)}", {"data": f"note {next(counter)}"}),
                add,
            ),
        ]
        asyncio.run(timed_rounds(writes, args.calls))
        memory.close()

    entries = {entry.name: entry for entry in searches + writes}
    print(f"{args.memories} memories, median of {args.calls} interleaved calls each\n")
    print("| entry point | ms per call | × its baseline | overhead (ms) |")
    print("|---|---:|---:|---:|")
    for entry in entries.values():
        ms = statistics.median(entry.times) * 1000
        baseline = statistics.median(entries[entry.baseline].times) * 1000
        print(f"| {entry.name} | {ms:.2f} | {ms / baseline:.2f} | {ms - baseline:+.2f} |")


if __name__ == "__main__":
    main()
