"""Google ADK: ``EngramMemoryService`` under ADK's own ``Runner``, with its ``load_memory`` tool and an
``after_agent_callback`` that adds the session to memory, driven by a scripted ``BaseLlm``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.adk.agents import Agent
from google.adk.agents.callback_context import CallbackContext
from google.adk.memory.memory_entry import MemoryEntry
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.adk.tools import load_memory
from google.genai import types
from pydantic import Field

from engram import AsyncMemory, AsyncMemoryClient, Memory, NotFoundError
from engram.embedders.hashing import HashingEmbedder
from engram.integrations.adk import EngramMemoryService, tool_errors_to_model
from engram.llms.scripted import ScriptedLLM
from engram.server import ServerSettings, create_app

from .conftest import facts

APP = "assistant_app"


class ScriptedLlm(BaseLlm):
    """Calls a tool given as (name, args), or answers a string, in turn."""

    model: str = "scripted"
    steps: list[Any] = Field(default_factory=list)

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        step = self.steps.pop(0)
        if isinstance(step, tuple):
            part = types.Part(function_call=types.FunctionCall(name=step[0], args=step[1]))
        else:
            part = types.Part(text=step)
        yield LlmResponse(content=types.Content(role="model", parts=[part]))


async def remember_session(callback_context: CallbackContext) -> None:
    await callback_context.add_session_to_memory()


class Conversations:
    """ADK's runner with engram as its memory service; one new session per ``say``."""

    def __init__(self, service: EngramMemoryService) -> None:
        self.service = service
        self.sessions = InMemorySessionService()

    async def say(self, user: str, text: str, *steps: Any) -> list[Any]:
        agent = Agent(
            name="assistant",
            model=ScriptedLlm(steps=list(steps)),
            tools=[load_memory],
            after_agent_callback=remember_session,
            on_tool_error_callback=tool_errors_to_model,
        )
        runner = Runner(agent=agent, app_name=APP, session_service=self.sessions, memory_service=self.service)
        session = await self.sessions.create_session(app_name=APP, user_id=user)
        message = types.Content(role="user", parts=[types.Part(text=text)])
        return [e async for e in runner.run_async(user_id=user, session_id=session.id, new_message=message)]


def tool_results(events: list[Any]) -> list[dict[str, Any]]:
    return [
        part.function_response.response
        for event in events
        for part in (event.content.parts if event.content else [])
        if part.function_response
    ]


def found_texts(events: list[Any]) -> list[str]:
    """The texts load_memory gave the model (ADK wraps the tool's LoadMemoryResponse as "result")."""
    memories = tool_results(events)[0]["result"].memories
    return [m.content.parts[0].text for m in memories]


def test_what_one_session_said_a_later_session_of_the_user_finds(async_memory: AsyncMemory) -> None:
    chats = Conversations(EngramMemoryService(async_memory))

    async def run() -> tuple[list[Any], list[Any]]:
        await chats.say("alice", "I'm allergic to shellfish", "Noted, no shellfish.")
        recall = ("load_memory", {"query": "food allergies"})
        mine = await chats.say("alice", "What should I avoid?", recall, "Shellfish.")
        theirs = await chats.say("bob", "What should I avoid?", recall, "No idea.")
        return mine, theirs

    mine, theirs = asyncio.run(run())
    assert "I'm allergic to shellfish" in found_texts(mine)
    assert found_texts(theirs) == []


def test_with_infer_the_llm_keeps_the_facts_of_the_session(memory_with_llm: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Is allergic to shellfish"), facts()]  # one add per session
    chats = Conversations(EngramMemoryService(memory_with_llm, infer=True))

    async def run() -> list[Any]:
        await chats.say("alice", "I'm allergic to shellfish", "Noted.")
        return await chats.say("alice", "allergies?", ("load_memory", {"query": "allergies"}), "Shellfish.")

    assert found_texts(asyncio.run(run())) == ["Is allergic to shellfish"]


def test_a_session_added_again_is_not_stored_twice(memory: Memory) -> None:
    service = EngramMemoryService(memory)
    chats = Conversations(service)

    async def run() -> None:
        await chats.say("alice", "My bike is blue", "Nice.")
        sessions = await chats.sessions.list_sessions(app_name=APP, user_id="alice")
        session = await chats.sessions.get_session(app_name=APP, user_id="alice", session_id=sessions.sessions[0].id)
        assert session is not None
        await service.add_session_to_memory(session)

    asyncio.run(run())
    stored = [m["memory"] for m in memory.get_all(user_id="alice", agent_id=APP)["results"]]
    assert sorted(stored) == ["My bike is blue", "Nice."]
    assert all(
        m["actor_id"] == "assistant" for m in memory.get_all(user_id="alice")["results"] if m["memory"] == "Nice."
    )


def test_a_validation_error_reaches_the_model_as_the_tools_result(memory: Memory) -> None:
    chats = Conversations(EngramMemoryService(memory))

    events = asyncio.run(chats.say("alice", "hi", ("load_memory", {"query": "  "}), "Sorry."))

    assert tool_results(events) == [
        {"error": "Error: could not run load_memory: ValidationError: query must be a non-empty string"}
    ]
    assert events[-1].content.parts[0].text == "Sorry."


def test_search_with_episodes_returns_the_messages_facts_missed(memory_with_llm: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts()]  # the LLM kept no fact of this session
    service = EngramMemoryService(memory_with_llm, infer=True, episodes=3)
    reply = "Biscuit is a lovely name for a beagle puppy!"

    async def run() -> list[MemoryEntry]:
        await Conversations(service).say("alice", "We adopted a puppy", reply)
        return (await service.search_memory(app_name=APP, user_id="alice", query="Biscuit beagle")).memories

    episodes = [m for m in asyncio.run(run()) if m.custom_metadata["kind"] == "episode"]
    assert [(m.content.parts[0].text, m.author) for m in episodes if m.content.parts] == [(reply, "assistant")]


def test_add_memory_and_delete_memory_within_the_users_scope(memory: Memory) -> None:
    service = EngramMemoryService(memory)
    entry = MemoryEntry(content=types.Content(role="user", parts=[types.Part(text="Prefers email")]))

    async def run() -> list[MemoryEntry]:
        await service.add_memory(app_name=APP, user_id="alice", memories=[entry])
        found = (await service.search_memory(app_name=APP, user_id="alice", query="contact")).memories
        with pytest.raises(NotFoundError):
            await service.delete_memory(app_name=APP, user_id="bob", memory_id=found[0].id)
        await service.delete_memory(app_name=APP, user_id="alice", memory_id=found[0].id)
        return (await service.search_memory(app_name=APP, user_id="alice", query="contact")).memories

    assert asyncio.run(run()) == []


def test_the_service_works_against_a_server_through_the_async_client(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, memory_config={"embedder": {"provider": "hashing"}})
    app = create_app(settings, embedder=HashingEmbedder())
    _, secret = app.state.engram.store.create_key("p", "test")

    async def run() -> tuple[list[Any], list[Any]]:
        async with AsyncMemoryClient(
            secret, host="http://engram.test", transport=httpx.ASGITransport(app=app)
        ) as client:
            chats = Conversations(EngramMemoryService(client))
            await chats.say("alice", "My favourite colour is teal", "Noted.")
            recall = ("load_memory", {"query": "favourite colour teal"})
            return await chats.say("alice", "colour?", recall, "Teal."), await chats.say("bob", "colour?", recall, "?")

    mine, theirs = asyncio.run(run())
    assert "My favourite colour is teal" in found_texts(mine)
    assert found_texts(theirs) == []
