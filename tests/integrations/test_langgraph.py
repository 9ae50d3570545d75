"""LangGraph: ``EngramStore`` under real graphs (``graph.compile(store=...)``), langmem's memory tools in a
prebuilt ReAct agent driven by a scripted chat model, and the store's own semantics on both backends."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import httpx
import pytest
from langchain_core.messages import ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.prebuilt import ToolNode, create_react_agent
from langgraph.runtime import Runtime
from langmem import create_manage_memory_tool, create_search_memory_tool

from conftest_pg import MemoryFactory
from engram import AsyncMemory, AsyncMemoryClient, Memory
from engram.embedders.hashing import HashingEmbedder
from engram.integrations.langgraph import AGENT_FIXABLE, EngramStore
from engram.llms.scripted import ScriptedLLM
from engram.server import ServerSettings, create_app

from .chat_models import ScriptedChatModel, calls
from .conftest import facts

# -- a hand-written graph whose nodes use the store, as LangGraph's docs show -----------------------


@dataclass
class User:
    user_id: str


class Turn(TypedDict, total=False):
    said: str
    recalled: list[str]


def remember_and_recall(state: Turn, runtime: Runtime[User]) -> Turn:
    assert runtime.store is not None
    namespace = ("memories", runtime.context.user_id)
    recalled = [item.value["data"] for item in runtime.store.search(namespace, query=state["said"], limit=3)]
    if state["said"].startswith("remember:"):
        runtime.store.put(namespace, f"note-{len(recalled)}", {"data": state["said"].removeprefix("remember:")})
    return {"recalled": recalled}


async def aremember_and_recall(state: Turn, runtime: Runtime[User]) -> Turn:
    assert runtime.store is not None
    namespace = ("memories", runtime.context.user_id)
    found = await runtime.store.asearch(namespace, query=state["said"], limit=3)
    if state["said"].startswith("remember:"):
        await runtime.store.aput(namespace, f"note-{len(found)}", {"data": state["said"].removeprefix("remember:")})
    return {"recalled": [item.value["data"] for item in found]}


def build_graph(store: EngramStore, node: Any) -> Any:
    builder = StateGraph(Turn, context_schema=User)
    builder.add_node("memory", node)
    builder.add_edge(START, "memory")
    return builder.compile(store=store, checkpointer=InMemorySaver())


def thread(name: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": name}}


def test_what_a_graph_stored_in_one_thread_another_thread_of_the_user_finds(memory: Memory) -> None:
    graph = build_graph(EngramStore(memory, user_at=1), remember_and_recall)
    graph.invoke({"said": "remember: I am vegetarian"}, thread("t1"), context=User("alice"))

    later = graph.invoke({"said": "what should I cook for dinner, given my diet?"}, thread("t2"), context=User("alice"))
    other = graph.invoke({"said": "what should I cook for dinner, given my diet?"}, thread("t3"), context=User("bob"))

    assert later["recalled"] == [" I am vegetarian"]
    assert other["recalled"] == []


def test_an_async_graph_on_async_memory(async_memory: AsyncMemory) -> None:
    graph = build_graph(EngramStore(async_memory, user_at=1), aremember_and_recall)

    async def run() -> tuple[Turn, Turn]:
        await graph.ainvoke({"said": "remember: my sister is called Ana"}, thread("t1"), context=User("alice"))
        mine = await graph.ainvoke({"said": "who is my sister?"}, thread("t2"), context=User("alice"))
        theirs = await graph.ainvoke({"said": "who is my sister?"}, thread("t3"), context=User("bob"))
        return mine, theirs

    mine, theirs = asyncio.run(run())
    assert mine["recalled"] == [" my sister is called Ana"]
    assert theirs["recalled"] == []


def test_an_async_graph_on_a_server_through_the_async_client(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, memory_config={"embedder": {"provider": "hashing"}})
    app = create_app(settings, embedder=HashingEmbedder())
    _, secret = app.state.engram.store.create_key("p", "test")

    async def run() -> tuple[Turn, Turn]:
        transport = httpx.ASGITransport(app=app)
        async with AsyncMemoryClient(secret, host="http://engram.test", transport=transport) as client:
            graph = build_graph(EngramStore(client, user_at=1), aremember_and_recall)
            await graph.ainvoke({"said": "remember: I play the cello"}, thread("t1"), context=User("alice"))
            mine = await graph.ainvoke({"said": "what do I play? cello"}, thread("t2"), context=User("alice"))
            theirs = await graph.ainvoke({"said": "what do I play? cello"}, thread("t3"), context=User("bob"))
            return mine, theirs

    mine, theirs = asyncio.run(run())
    assert mine["recalled"] == [" I play the cello"]
    assert theirs["recalled"] == []


# -- langmem's memory tools in LangGraph's prebuilt ReAct agent -----------------------------------------


def memory_agent(store: EngramStore, model: ScriptedChatModel) -> Any:
    namespace = ("memories", "{langgraph_user_id}")
    tools = ToolNode(
        [create_manage_memory_tool(namespace), create_search_memory_tool(namespace)],
        handle_tool_errors=AGENT_FIXABLE,  # engram's ValidationError goes back to the model as a message
    )
    return create_react_agent(model, tools, store=store, checkpointer=InMemorySaver())


def user_thread(user: str, name: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": name, "langgraph_user_id": user}}


def said(message: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": message}]}


def tool_answer(result: dict[str, Any]) -> str:
    return str(next(m for m in result["messages"] if isinstance(m, ToolMessage)).content)


def test_langmem_tools_remember_in_one_thread_and_find_in_another(memory: Memory) -> None:
    store = EngramStore(memory, user_at=1)
    save = calls(("manage_memory", {"content": "Alice is allergic to peanuts"}), "Noted.")
    memory_agent(store, save).invoke(said("I'm allergic to peanuts"), user_thread("alice", "t1"))

    search = ("search_memory", {"query": "food allergies"})
    mine = memory_agent(store, calls(search, "You are allergic to peanuts.")).invoke(
        said("what am I allergic to?"), user_thread("alice", "t2")
    )
    theirs = memory_agent(store, calls(search, "I don't know.")).invoke(
        said("what am I allergic to?"), user_thread("bob", "t3")
    )

    found = json.loads(tool_answer(mine))
    assert [item["value"]["content"] for item in found] == ["Alice is allergic to peanuts"]
    assert found[0]["score"] > 0 and found[0]["created_at"]  # engram's score and time
    assert json.loads(tool_answer(theirs)) == []


def test_with_infer_the_llm_keeps_the_facts_of_what_the_tool_stored(
    memory_with_llm: Memory, scripted: ScriptedLLM
) -> None:
    store = EngramStore(memory_with_llm, user_at=1, infer=True)
    scripted.answers = [facts("Prefers window seats")]
    save = calls(("manage_memory", {"content": "On flights, Alice always books a window seat"}), "Noted.")
    memory_agent(store, save).invoke(said("book me a window seat"), user_thread("alice", "t1"))

    search = ("search_memory", {"query": "seat preference"})
    mine = memory_agent(store, calls(search, "A window seat.")).invoke(said("my seat?"), user_thread("alice", "t2"))
    theirs = memory_agent(store, calls(search, "No idea.")).invoke(said("my seat?"), user_thread("bob", "t3"))

    found = json.loads(tool_answer(mine))
    assert [item["value"] for item in found] == [{"content": "Prefers window seats"}]
    assert store.get(("memories", "alice"), found[0]["key"]) is not None  # a fact's key is its memory id
    assert json.loads(tool_answer(theirs)) == []


def test_a_validation_error_comes_back_to_the_model_as_a_tool_message(memory: Memory) -> None:
    model = calls(("search_memory", {"query": "anything", "limit": 0}), "Sorry.")
    result = memory_agent(EngramStore(memory, user_at=1), model).invoke(said("hi"), user_thread("alice", "t1"))

    answer = tool_answer(result)
    assert "ValidationError" in answer and "limit must be an integer from 1 to 10000" in answer
    assert result["messages"][-1].content == "Sorry."  # the graph went on


# -- the store's own semantics, on SQLite and PostgreSQL -------------------------------------------------


@pytest.fixture
def store(memory_factory: MemoryFactory) -> EngramStore:
    return EngramStore(memory_factory(), user_at=1)


def test_get_returns_exactly_what_was_put_with_engrams_times(store: EngramStore) -> None:
    store.put(("memories", "alice"), "diet", {"data": "vegetarian", "since": 2019, "tags": ["food"]})

    item = store.get(("memories", "alice"), "diet")

    assert item is not None
    assert (item.namespace, item.key) == (("memories", "alice"), "diet")
    assert item.value == {"data": "vegetarian", "since": 2019, "tags": ["food"]}
    assert item.created_at.tzinfo is not None
    assert store.get(("memories", "bob"), "diet") is None


def test_two_keys_with_the_same_text_stay_two_items(store: EngramStore) -> None:
    store.put(("notes", "alice"), "a", {"data": "call mum"})
    store.put(("notes", "alice"), "b", {"data": "call mum"})

    assert sorted(item.key for item in store.search(("notes", "alice"))) == ["a", "b"]


def test_a_second_put_replaces_the_value_and_none_deletes(store: EngramStore) -> None:
    store.put(("memories", "alice"), "city", {"data": "lives in Lisbon"})
    store.put(("memories", "alice"), "city", {"data": "lives in Porto"})
    assert store.get(("memories", "alice"), "city").value == {"data": "lives in Porto"}  # type: ignore[union-attr]
    assert [item.value["data"] for item in store.search(("memories", "alice"), query="where")] == ["lives in Porto"]

    store.delete(("memories", "alice"), "city")
    assert store.get(("memories", "alice"), "city") is None


def test_search_filters_on_value_fields_and_pages(store: EngramStore) -> None:
    for n in range(5):
        store.put(("docs", "alice"), f"d{n}", {"text": f"report number {n}", "rank": n, "kind": "report"})

    ranked = store.search(("docs", "alice"), query="report", filter={"rank": {"$gte": 3}, "kind": "report"})
    page = store.search(("docs", "alice"), limit=2, offset=1)

    assert sorted(item.key for item in ranked) == ["d3", "d4"]
    assert all(item.score is not None for item in ranked)
    assert len(page) == 2 and all(item.score is None for item in page)


def test_a_prefix_search_spans_sub_namespaces(store: EngramStore) -> None:
    store.put(("memories", "alice", "food"), "k", {"data": "likes figs"})
    store.put(("memories", "alice", "work"), "k", {"data": "works at a bakery"})

    assert {item.namespace for item in store.search(("memories", "alice"))} == {
        ("memories", "alice", "food"),
        ("memories", "alice", "work"),
    }


def test_list_namespaces_with_conditions_and_depth(store: EngramStore) -> None:
    store.put(("memories", "alice", "food"), "k", {"data": "x"})
    store.put(("memories", "bob", "food"), "k", {"data": "y"})
    store.put(("profiles", "alice"), "k", {"data": "z"})

    assert store.list_namespaces() == [
        ("memories", "alice", "food"),
        ("memories", "bob", "food"),
        ("profiles", "alice"),
    ]
    assert store.list_namespaces(prefix=("memories",), max_depth=2) == [("memories", "alice"), ("memories", "bob")]
    assert store.list_namespaces(suffix=("food",), limit=1) == [("memories", "alice", "food")]
    assert store.list_namespaces(prefix=("*", "alice")) == [
        ("memories", "alice", "food"),
        ("profiles", "alice"),
    ]


def test_a_put_with_ttl_gets_an_expiration(store: EngramStore) -> None:
    store.put(("memories", "alice"), "short", {"data": "in a meeting"}, ttl=30)
    memory = store.engram.memory
    assert isinstance(memory, Memory)

    stored = memory.get_all(user_id="alice")["results"]

    assert [item["memory"] for item in stored] == ["in a meeting"]
    assert memory.store.get_memory(stored[0]["id"]).expiration_date is not None  # type: ignore[union-attr]


def test_the_index_argument_chooses_what_is_searched(store: EngramStore) -> None:
    store.put(("memories", "alice"), "k", {"title": "zebra", "body": "giraffe"}, index=["title"])
    memory = store.engram.memory
    assert isinstance(memory, Memory)

    assert [item["memory"] for item in memory.get_all(user_id="alice")["results"]] == ["zebra"]
