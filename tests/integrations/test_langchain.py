"""LangChain: engram's memory tools in LangChain's own agent (``create_agent``) driven by a scripted chat
model, and the retriever, sync and async, against a real store."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from engram import AsyncMemory, ConfigError, Memory, ValidationError
from engram.integrations.langchain import EngramRetriever, memory_tools
from engram.llms.scripted import ScriptedLLM

from .chat_models import ScriptedChatModel, calls
from .conftest import facts


def run_as(user: str, thread: str) -> dict[str, Any]:
    return {"configurable": {"user_id": user, "thread_id": thread}}


def said(message: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": message}]}


def tool_answers(result: dict[str, Any]) -> list[str]:
    return [str(m.content) for m in result["messages"] if isinstance(m, ToolMessage)]


def tool_statuses(result: dict[str, Any]) -> list[str]:
    return [m.status for m in result["messages"] if isinstance(m, ToolMessage)]


def agent(memory: Any, model: ScriptedChatModel, **options: Any) -> Any:
    return create_agent(model, memory_tools(memory, **options), checkpointer=InMemorySaver())


def test_what_the_agent_remembered_another_thread_of_the_user_finds(memory: Memory) -> None:
    agent(memory, calls(("remember", {"text": "Alice is training for a marathon"}), "Noted.")).invoke(
        said("I'm training for a marathon"), run_as("alice", "t1")
    )
    search = ("search_memory", {"query": "running plans"})

    mine = agent(memory, calls(search, "Your marathon!")).invoke(said("what am I training for?"), run_as("alice", "t2"))
    theirs = agent(memory, calls(search, "No idea.")).invoke(said("what am I training for?"), run_as("bob", "t3"))

    assert "Alice is training for a marathon" in tool_answers(mine)[0]
    assert tool_answers(theirs) == ["No memories match."]


def test_an_async_agent_on_async_memory(async_memory: AsyncMemory) -> None:
    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        model = calls(("remember", {"text": "Alice's cat is called Miso"}), "Noted.")
        await agent(async_memory, model).ainvoke(said("my cat is Miso"), run_as("alice", "t1"))
        search = ("search_memory", {"query": "cat's name"})
        mine = await agent(async_memory, calls(search, "Miso.")).ainvoke(said("cat?"), run_as("alice", "t2"))
        theirs = await agent(async_memory, calls(search, "?")).ainvoke(said("cat?"), run_as("bob", "t3"))
        return mine, theirs

    mine, theirs = asyncio.run(run())
    assert "Alice's cat is called Miso" in tool_answers(mine)[0]
    assert tool_answers(theirs) == ["No memories match."]


def test_with_infer_the_llm_keeps_the_facts(memory_with_llm: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Works night shifts at the hospital")]
    model = calls(("remember", {"text": "I'm a nurse and these days I only work nights"}), "Noted.")
    saved = agent(memory_with_llm, model, infer=True).invoke(said("I work nights now"), run_as("alice", "t1"))

    search = ("search_memory", {"query": "work schedule"})
    mine = agent(memory_with_llm, calls(search, "Nights.")).invoke(said("when do I work?"), run_as("alice", "t2"))

    assert tool_answers(saved)[0].startswith("ADD [")
    assert "Works night shifts at the hospital" in tool_answers(mine)[0]


def test_a_validation_error_is_a_tool_message_that_says_what_to_fix(memory: Memory) -> None:
    model = calls(("search_memory", {"query": "   "}), "Sorry.")
    result = agent(memory, model).invoke(said("hi"), run_as("alice", "t1"))

    assert tool_answers(result) == ["Error: could not search memory: ValidationError: query must be a non-empty string"]
    assert result["messages"][-1].content == "Sorry."


def test_forget_deletes_the_users_memory_but_never_another_users(memory: Memory) -> None:
    mine = memory.add("I like olives", user_id="alice", infer=False)["results"][0]["id"]
    theirs = memory.add("I like capers", user_id="bob", infer=False)["results"][0]["id"]
    model = calls(("forget_memory", {"memory_id": theirs}), ("forget_memory", {"memory_id": mine}), "Done.")

    result = agent(memory, model).invoke(said("forget what you know about my food"), run_as("alice", "t1"))

    refused, forgotten = tool_answers(result)
    assert refused.startswith("Error: could not forget: NotFoundError: no memory here has id")
    assert forgotten == f"Forgot [{mine}] I like olives"
    assert memory.get(mine) is None and memory.get(theirs) is not None


def test_without_a_scope_the_application_is_told_how_to_give_one(memory: Memory) -> None:
    tool = memory_tools(memory)[0]

    with pytest.raises(ConfigError, match="need a scope"):
        tool.invoke({"query": "anything"})


def test_a_fixed_scope_needs_no_config(memory: Memory) -> None:
    memory.add("Prefers tea to coffee", user_id="alice", infer=False)
    search = memory_tools(memory, user_id="alice")[0]

    assert "Prefers tea to coffee" in search.invoke({"query": "hot drinks"})


def test_the_retriever_returns_documents_with_engrams_scores(memory: Memory) -> None:
    memory.add("Alice plays the violin", user_id="alice", infer=False, metadata={"topic": "music"})
    memory.add("Bob plays the drums", user_id="bob", infer=False)

    documents = EngramRetriever(memory=memory, user_id="alice").invoke("what instrument?")

    assert [d.page_content for d in documents] == ["Alice plays the violin"]
    assert documents[0].metadata["score"] > 0 and documents[0].metadata["topic"] == "music"
    assert documents[0].id == memory.get_all(user_id="alice")["results"][0]["id"]


def test_the_async_retriever_on_async_memory(async_memory: AsyncMemory) -> None:
    async def run() -> list[str]:
        await async_memory.add("Alice speaks Portuguese", user_id="alice", infer=False)
        documents = await EngramRetriever(memory=async_memory, user_id="alice").ainvoke("languages")
        return [d.page_content for d in documents]

    assert asyncio.run(run()) == ["Alice speaks Portuguese"]


def test_the_retriever_raises_engrams_errors(memory: Memory) -> None:
    with pytest.raises(ValidationError, match="unknown"):
        EngramRetriever(memory=memory, user_id="alice", filters={"x": {"near": 1}}).invoke("q")


def test_remember_says_when_nothing_was_new_or_worth_keeping(memory_with_llm: Memory, scripted: ScriptedLLM) -> None:
    memory_with_llm.add("Likes jazz", user_id="alice", infer=False)
    as_said, inferred = (
        memory_tools(memory_with_llm, user_id="alice")[1],
        memory_tools(memory_with_llm, user_id="alice", infer=True)[1],
    )
    scripted.answers = [facts()]  # the LLM finds nothing worth keeping

    assert as_said.invoke({"text": "Likes jazz"}) == "Nothing new to remember: memory already holds this."
    assert inferred.invoke({"text": "hmm, ok"}) == "Nothing stored: engram found nothing in it worth remembering."
