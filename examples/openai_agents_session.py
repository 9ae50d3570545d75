"""The OpenAI Agents SDK with engram: memory tools, and a Session whose history lives in engram
(pip install 'engramdb[openai-agents]').

The SDK's quick start agent, given engram's function tools and an EngramSession. The session gives the
next run the conversation so far; what was said in it is long-term memory that the user's other sessions
find, and another user's never do. Runs offline: the model answers from a script (use a real one, e.g.
Agent(model="gpt-5-mini"), in an app), and infer=False keeps the messages as said.
"""

import asyncio
import json
from typing import Any

from agents import Agent, Runner, Usage, set_tracing_disabled
from agents.items import ModelResponse
from agents.models.interface import Model
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from engram import AsyncMemory
from engram.integrations.openai_agents import EngramSession, memory_tools

set_tracing_disabled(True)  # offline: no traces sent to OpenAI


class ScriptedModel(Model):
    """Calls a tool given as (name, args), or answers a string, in turn."""

    def __init__(self, *steps: Any) -> None:
        self.steps = list(steps)

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        step = self.steps.pop(0)
        if isinstance(step, tuple):
            call = ResponseFunctionToolCall(
                arguments=json.dumps(step[1]), call_id="1", name=step[0], type="function_call"
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        text = ResponseOutputText(annotations=[], text=step, type="output_text")
        message = ResponseOutputMessage(id="m", content=[text], role="assistant", status="completed", type="message")
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


memory = AsyncMemory({"vector_store": {"provider": "sqlite", "config": {"path": "engram-openai-agents.db"}}})


async def main() -> None:
    chat = EngramSession("chat-1", memory, user_id="alice")
    greeter = Agent(name="Assistant", model=ScriptedModel("Nice to meet you, Alice!"))
    await Runner.run(greeter, "Hi! I'm Alice and I live in Porto.", session=chat)
    print("chat-1 history:", [item["content"] for item in await chat.get_items()])

    for user in ("alice", "bob"):
        model = ScriptedModel(("search_memory", {"query": "where do I live?"}), "...")
        agent = Agent(name="Assistant", model=model, tools=memory_tools(memory))
        result = await Runner.run(agent, "Where do I live?", context={"user_id": user})
        found = result.new_items[1].output  # the tool's answer: "- [id] text (since date)" per memory
        print(f"{user}:", found.splitlines()[0].split("] ")[-1].split(" (since")[0])  # the best match


asyncio.run(main())
# chat-1 history: ["Hi! I'm Alice and I live in Porto.", 'Nice to meet you, Alice!']
# alice: Hi! I'm Alice and I live in Porto.
# bob: No memories match.
