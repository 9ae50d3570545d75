"""The OpenAI Agents SDK: engram's function tools and ``EngramSession`` under the SDK's own ``Runner``, with a
scripted ``Model`` (the SDK's model interface, answering from a script instead of an API)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents import Agent, ModelSettings, Runner, Usage, set_tracing_disabled
from agents.exceptions import UserError
from agents.items import ModelResponse, TResponseInputItem
from agents.models.interface import Model
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from engram import AsyncMemory, AsyncMemoryClient, ConfigError, Memory
from engram.embedders.hashing import HashingEmbedder
from engram.integrations.openai_agents import EngramSession, memory_tools
from engram.llms.scripted import ScriptedLLM
from engram.server import ServerSettings, create_app

from .conftest import facts

Step = tuple[str, dict[str, Any]] | str


@pytest.fixture(autouse=True)
def no_tracing() -> Iterator[None]:
    """The SDK exports traces to OpenAI by default; tests send nothing anywhere."""
    set_tracing_disabled(True)
    yield
    set_tracing_disabled(False)


class ScriptedModel(Model):
    """Calls each tool given as (name, args) in turn, or answers a string; records what it was sent."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.inputs: list[str | list[TResponseInputItem]] = []

    async def get_response(
        self, system_instructions: Any, input: str | list[TResponseInputItem], *args: Any, **kwargs: Any
    ) -> ModelResponse:
        self.inputs.append(input)
        step = self.steps.pop(0)
        if isinstance(step, tuple):
            name, arguments = step
            call = ResponseFunctionToolCall(
                arguments=json.dumps(arguments), call_id=f"call_{len(self.inputs)}", name=name, type="function_call"
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        text = ResponseOutputText(annotations=[], text=step, type="output_text")
        message = ResponseOutputMessage(id="msg", content=[text], role="assistant", status="completed", type="message")
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the scripted model does not stream")


def agent(memory: Any, *steps: Step, **options: Any) -> tuple[Agent[Any], ScriptedModel]:
    model = ScriptedModel(*steps)
    return Agent(name="assistant", model=model, tools=memory_tools(memory, **options)), model


def tool_output(result: Any) -> str:
    return str(next(item.output for item in result.new_items if item.type == "tool_call_output_item"))


def test_what_one_run_remembered_a_later_run_of_the_user_finds(memory: Memory) -> None:
    saver, _ = agent(memory, ("remember", {"text": "Alice plays chess on Sundays"}), "Noted.")
    Runner.run_sync(saver, "I play chess every Sunday", context={"user_id": "alice"})

    search = ("search_memory", {"query": "weekend hobbies"})
    mine = Runner.run_sync(agent(memory, search, "Chess.")[0], "hobbies?", context={"user_id": "alice"})
    theirs = Runner.run_sync(agent(memory, search, "?")[0], "hobbies?", context={"user_id": "bob"})

    assert "Alice plays chess on Sundays" in tool_output(mine)
    assert tool_output(theirs) == "No memories match."


def test_with_infer_the_llm_keeps_the_facts(memory_with_llm: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Drinks oat milk")]
    saver, _ = agent(memory_with_llm, ("remember", {"text": "I switched to oat milk"}), "Noted.", infer=True)
    Runner.run_sync(saver, "oat milk from now on", context={"user_id": "alice"})

    finder, _ = agent(memory_with_llm, ("search_memory", {"query": "milk"}), "Oat.")
    found = Runner.run_sync(finder, "which milk?", context={"user_id": "alice"})

    assert "Drinks oat milk" in tool_output(found)


def test_a_validation_error_is_a_tool_output_that_says_what_to_fix(memory: Memory) -> None:
    finder, _ = agent(memory, ("search_memory", {"query": " "}), "Sorry.")
    result = Runner.run_sync(finder, "hi", context={"user_id": "alice"})

    assert tool_output(result) == "Error: could not search memory: ValidationError: query must be a non-empty string"
    assert result.final_output == "Sorry."


def test_a_context_without_a_scope_is_the_applications_error_and_raises(memory: Memory) -> None:
    finder, _ = agent(memory, ("search_memory", {"query": "x"}), "Sorry.")

    with pytest.raises(UserError, match="take the scope from the run's context") as raised:
        Runner.run_sync(finder, "hi", context={})
    assert isinstance(raised.value.__cause__, ConfigError)  # the SDK wraps it; engram's error is the cause


# -- the Session, on engram's episodes ----------------------------------------------------------------------


def test_a_session_gives_the_next_run_the_conversation_so_far(async_memory: AsyncMemory) -> None:
    session = EngramSession("chat-1", async_memory, user_id="alice")
    assistant = Agent(name="assistant", model=ScriptedModel("Hi Alice!", "You are Alice."))

    async def run() -> list[TResponseInputItem]:
        await Runner.run(assistant, "Hello, I'm Alice", session=session)
        await Runner.run(assistant, "What's my name?", session=session)
        return await session.get_items()

    items = asyncio.run(run())

    assert items == [
        {"role": "user", "content": "Hello, I'm Alice"},
        {"role": "assistant", "content": "Hi Alice!"},
        {"role": "user", "content": "What's my name?"},
        {"role": "assistant", "content": "You are Alice."},
    ]
    sent = assistant.model.inputs[1]  # type: ignore[union-attr]
    assert [item["content"] for item in sent][:2] == ["Hello, I'm Alice", "Hi Alice!"]  # type: ignore[index]


def test_what_a_session_said_is_long_term_memory_for_the_users_other_sessions(memory: Memory) -> None:
    session = EngramSession("chat-1", memory, user_id="alice")
    Runner.run_sync(Agent(name="a", model=ScriptedModel("Noted!")), "My daughter is called Rosa", session=session)

    search = ("search_memory", {"query": "daughter's name"})
    mine = Runner.run_sync(
        agent(memory, search, "Rosa.")[0],
        "?",
        session=EngramSession("chat-2", memory, user_id="alice"),
        context={"user_id": "alice"},
    )
    theirs = Runner.run_sync(agent(memory, search, "?")[0], "?", context={"user_id": "bob"})

    assert "My daughter is called Rosa" in tool_output(mine)
    assert tool_output(theirs) == "No memories match."
    assert asyncio.run(EngramSession("chat-2", memory, user_id="alice").get_items())[0]["content"] == "?"  # type: ignore[typeddict-item]


def test_a_session_keeps_the_messages_not_the_tool_calls(memory: Memory) -> None:
    session = EngramSession("chat-1", memory, user_id="alice")
    searcher, _ = agent(memory, ("search_memory", {"query": "anything"}), "Nothing yet.")
    Runner.run_sync(searcher, "what do you know?", session=session, context={"user_id": "alice"})

    items = asyncio.run(session.get_items())

    assert items == [
        {"role": "user", "content": "what do you know?"},
        {"role": "assistant", "content": "Nothing yet."},
    ]


def test_with_infer_a_session_keeps_facts_as_memories_and_every_message_as_history(
    memory_with_llm: Memory, scripted: ScriptedLLM
) -> None:
    scripted.answers = [facts("Is learning Japanese"), facts()]  # the SDK adds the input, then the reply
    session = EngramSession("chat-1", memory_with_llm, user_id="alice", infer=True)
    Runner.run_sync(Agent(name="a", model=ScriptedModel("Ganbatte!")), "I started learning Japanese", session=session)

    assert [m["memory"] for m in memory_with_llm.get_all(user_id="alice")["results"]] == ["Is learning Japanese"]
    assert len(asyncio.run(session.get_items())) == 2


def test_get_items_with_a_limit_returns_the_latest_in_order(memory: Memory) -> None:
    session = EngramSession("chat-1", memory, user_id="alice")
    asyncio.run(session.add_items([{"role": "user", "content": f"message {n}"} for n in range(5)]))

    assert [item["content"] for item in asyncio.run(session.get_items(limit=2))] == ["message 3", "message 4"]  # type: ignore[typeddict-item]


def test_clear_session_forgets_the_session_and_nothing_else(memory: Memory) -> None:
    memory.add("Likes hiking", user_id="alice", infer=False)
    session = EngramSession("chat-1", memory, user_id="alice")
    asyncio.run(session.add_items([{"role": "user", "content": "I'm in Berlin this week"}]))

    asyncio.run(session.clear_session())

    assert asyncio.run(session.get_items()) == []
    assert [m["memory"] for m in memory.get_all(user_id="alice")["results"]] == ["Likes hiking"]


def test_pop_item_says_what_engram_cannot_do_yet(memory: Memory) -> None:
    with pytest.raises(ConfigError, match="cannot remove a single message"):
        asyncio.run(EngramSession("chat-1", memory, user_id="alice").pop_item())


def test_a_session_needs_a_face_of_engram() -> None:
    with pytest.raises(ConfigError, match="expected a Memory, AsyncMemory, MemoryClient or AsyncMemoryClient"):
        EngramSession("chat-1", object(), user_id="alice")  # type: ignore[arg-type]


def test_a_session_on_engrams_server_through_the_async_client(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, memory_config={"embedder": {"provider": "hashing"}})
    app = create_app(settings, embedder=HashingEmbedder())
    _, secret = app.state.engram.store.create_key("p", "test")
    assistant = Agent(name="assistant", model=ScriptedModel("Hi Alice!", "You are Alice."))

    async def run() -> tuple[list[TResponseInputItem], list[TResponseInputItem]]:
        transport = httpx.ASGITransport(app=app)
        async with AsyncMemoryClient(secret, host="http://engram.test", transport=transport) as client:
            session = EngramSession("chat-1", client, user_id="alice")
            await Runner.run(assistant, "Hello, I'm Alice", session=session)
            await Runner.run(assistant, "What's my name?", session=session)
            other = EngramSession("chat-2", client, user_id="alice")
            return await session.get_items(limit=3), await other.get_items()

    latest, other = asyncio.run(run())
    assert [item["content"] for item in latest] == ["Hi Alice!", "What's my name?", "You are Alice."]  # type: ignore[typeddict-item]
    assert other == []


def test_model_settings_are_untouched(memory: Memory) -> None:
    """The tools add nothing to the agent's model settings (the application keeps control of them)."""
    assistant, _ = agent(memory, "hi")
    assert assistant.model_settings == ModelSettings()
