"""Google ADK with engram as its memory service (pip install 'engramdb[adk]').

ADK's quick start agent with the load_memory tool, a callback that adds each session to memory, and
EngramMemoryService as the runner's memory service: what alice said in one session, a later session of
hers finds, and bob's never does. Runs offline: the model answers from a script (use a real one, e.g.
model="gemini-2.5-flash", in an app), and infer=False keeps the messages as said.
"""

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from google.adk.agents import Agent
from google.adk.agents.callback_context import CallbackContext
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.adk.tools import load_memory
from google.genai import types
from pydantic import Field

from engram import AsyncMemory
from engram.integrations.adk import EngramMemoryService, tool_errors_to_model


class ScriptedLlm(BaseLlm):
    """Calls a tool given as (name, args), or answers a string, in turn."""

    model: str = "scripted"
    steps: list[Any] = Field(default_factory=list)

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse]:
        step = self.steps.pop(0)
        call = types.FunctionCall(name=step[0], args=step[1]) if isinstance(step, tuple) else None
        part = types.Part(function_call=call) if call else types.Part(text=step)
        yield LlmResponse(content=types.Content(role="model", parts=[part]))


async def remember_session(callback_context: CallbackContext) -> None:
    await callback_context.add_session_to_memory()


memory = AsyncMemory({"vector_store": {"provider": "sqlite", "config": {"path": "engram-adk.db"}}})
sessions = InMemorySessionService()


async def chat(user: str, text: str, *steps: Any) -> list[Any]:
    agent = Agent(
        name="assistant",
        model=ScriptedLlm(steps=list(steps)),
        tools=[load_memory],
        after_agent_callback=remember_session,
        on_tool_error_callback=tool_errors_to_model,  # engram's ValidationError goes back to the model
    )
    runner = Runner(agent=agent, app_name="demo", session_service=sessions, memory_service=EngramMemoryService(memory))
    session = await sessions.create_session(app_name="demo", user_id=user)
    message = types.Content(role="user", parts=[types.Part(text=text)])
    return [event async for event in runner.run_async(user_id=user, session_id=session.id, new_message=message)]


async def main() -> None:
    await chat("alice", "I'm allergic to shellfish", "Noted, no shellfish.")
    for user in ("alice", "bob"):
        events = await chat(user, "What should I avoid?", ("load_memory", {"query": "allergies"}), "...")
        response = next(p.function_response.response for e in events for p in e.content.parts if p.function_response)
        print(f"{user}:", [m.content.parts[0].text for m in response["result"].memories])


asyncio.run(main())
# alice: ["I'm allergic to shellfish", 'Noted, no shellfish.']
# bob: []
