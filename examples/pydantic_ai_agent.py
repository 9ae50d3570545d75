"""A pydantic-ai agent with engram's memory toolset (pip install 'engramdb[pydantic-ai]').

pydantic-ai's quick start agent, given EngramToolset: the user comes from the run's deps. What the agent
remembers for alice in one run it finds in the next, and never for bob. Runs offline: the model is
pydantic-ai's FunctionModel with scripted tool calls (use a real one, e.g. Agent("openai:gpt-5-mini"),
in an app), and infer=False stores what the agent says as said.
"""

from dataclasses import dataclass
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from engram import AsyncMemory
from engram.integrations.pydantic_ai import EngramToolset


@dataclass
class Deps:
    user_id: str  # the toolset reads the scope from here


memory = AsyncMemory({"vector_store": {"provider": "sqlite", "config": {"path": "engram-pydantic-ai.db"}}})
agent = Agent(deps_type=Deps, toolsets=[EngramToolset(memory)], instructions="Be brief.")


def scripted(tool: str, **args: Any) -> FunctionModel:
    """Calls ``tool`` once, then answers with what it returned."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returned = [p for m in messages for p in getattr(m, "parts", []) if isinstance(p, ToolReturnPart)]
        if returned:
            return ModelResponse(parts=[TextPart(returned[-1].model_response_str())])
        return ModelResponse(parts=[ToolCallPart(tool, args)])

    return FunctionModel(respond)


agent.run_sync("I'm vegetarian", deps=Deps("alice"), model=scripted("remember", text="Alice is vegetarian"))
for user in ("alice", "bob"):
    result = agent.run_sync("Dinner ideas?", deps=Deps(user), model=scripted("search_memory", query="diet"))
    print(f"{user}: {result.output.split('] ')[-1].split(' (since')[0]}")  # a line is "- [id] text (since date)"
# alice: Alice is vegetarian
# bob: No memories match.
