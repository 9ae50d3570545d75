"""pydantic-ai: ``EngramToolset`` given to a real ``Agent``, driven by pydantic-ai's ``FunctionModel`` (and
``TestModel``), with the scope taken from the run's deps."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

from engram import AsyncMemory, ConfigError, Memory
from engram.integrations.pydantic_ai import EngramToolset
from engram.llms.scripted import ScriptedLLM

from .conftest import facts


@dataclass
class Deps:
    user_id: str


def calls(tool: str, **args: Any) -> FunctionModel:
    """A model that calls ``tool`` once, then answers with what the tool returned."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returned = [
            part
            for message in messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if isinstance(part, ToolReturnPart)
        ]
        if returned:
            return ModelResponse(parts=[TextPart(returned[-1].model_response_str())])
        return ModelResponse(parts=[ToolCallPart(tool, args)])

    return FunctionModel(respond)


def agent(memory: Any, **options: Any) -> Agent[Deps, str]:
    return Agent(deps_type=Deps, toolsets=[EngramToolset(memory, **options)])


def test_what_one_run_remembered_a_later_run_of_the_user_finds(memory: Memory) -> None:
    memories = agent(memory)
    memories.run_sync("I'm a vegetarian", deps=Deps("alice"), model=calls("remember", text="Alice is vegetarian"))

    mine = memories.run_sync("dinner ideas?", deps=Deps("alice"), model=calls("search_memory", query="diet"))
    theirs = memories.run_sync("dinner ideas?", deps=Deps("bob"), model=calls("search_memory", query="diet"))

    assert "Alice is vegetarian" in mine.output
    assert theirs.output == "No memories match."


def test_async_runs_on_async_memory(async_memory: AsyncMemory) -> None:
    memories = agent(async_memory)

    async def run() -> tuple[str, str]:
        await memories.run("remember", deps=Deps("alice"), model=calls("remember", text="Alice has two kids"))
        mine = await memories.run("kids?", deps=Deps("alice"), model=calls("search_memory", query="children"))
        theirs = await memories.run("kids?", deps=Deps("bob"), model=calls("search_memory", query="children"))
        return mine.output, theirs.output

    mine, theirs = asyncio.run(run())
    assert "Alice has two kids" in mine
    assert theirs == "No memories match."


def test_with_infer_the_llm_keeps_the_facts(memory_with_llm: Memory, scripted: ScriptedLLM) -> None:
    scripted.answers = [facts("Moved to Porto in 2024")]
    memories = agent(memory_with_llm, infer=True)
    memories.run_sync("news", deps=Deps("alice"), model=calls("remember", text="I moved to Porto last year, in 2024"))

    found = memories.run_sync("where?", deps=Deps("alice"), model=calls("search_memory", query="where does she live"))

    assert "Moved to Porto in 2024" in found.output


def test_a_validation_error_is_a_failed_tool_call_the_model_reads(memory: Memory) -> None:
    result = agent(memory).run_sync("hi", deps=Deps("alice"), model=calls("search_memory", query=" "))

    assert result.output == (
        '{"error":"Error: could not search memory: ValidationError: query must be a non-empty string"}'
    )
    returned = [p for m in result.all_messages() for p in getattr(m, "parts", []) if isinstance(p, ToolReturnPart)]
    assert [part.outcome for part in returned] == ["failed"]


def test_deps_may_be_a_dict_or_mapped_by_a_function(memory: Memory) -> None:
    memory.add("Speaks German", user_id="alice", infer=False)
    mapped = Agent(deps_type=str, toolsets=[EngramToolset(memory, scope=lambda name: {"user_id": name})])

    by_function = mapped.run_sync("x", deps="alice", model=calls("search_memory", query="languages"))
    by_dict = Agent(deps_type=dict, toolsets=[EngramToolset(memory)]).run_sync(
        "x", deps={"user_id": "alice"}, model=calls("search_memory", query="languages")
    )

    assert "Speaks German" in by_function.output and "Speaks German" in by_dict.output


def test_deps_without_a_scope_tell_the_application_what_to_give(memory: Memory) -> None:
    with pytest.raises(ConfigError, match="takes the scope from the run's deps"):
        Agent(deps_type=dict, toolsets=[EngramToolset(memory)]).run_sync(
            "x", deps={}, model=calls("search_memory", query="anything")
        )


def test_pydantic_ais_test_model_calls_every_tool(memory: Memory) -> None:
    result = agent(memory, forget=False).run_sync("hello", deps=Deps("alice"), model=TestModel())

    called = [
        p.tool_name for m in result.all_messages() for p in getattr(m, "parts", []) if isinstance(p, ToolCallPart)
    ]
    assert sorted(called) == ["remember", "search_memory"]
    assert memory.get_all(user_id="alice")["results"]  # TestModel's made-up text was stored for alice
