"""The OpenAI Agents SDK: memory function tools and a ``Session`` on engram's episodes
(``pip install 'engramdb[openai-agents]'``).

    from agents import Agent, Runner
    from engram import AsyncMemory
    from engram.integrations.openai_agents import EngramSession, memory_tools

    memory = AsyncMemory()
    agent = Agent(name="Assistant", tools=memory_tools(memory))
    session = EngramSession("chat-42", memory, user_id="alice")
    await Runner.run(agent, "I'm vegetarian", session=session, context={"user_id": "alice"})

- ``memory_tools``: ``search_memory``, ``remember`` and ``forget_memory`` as function tools. The scope
  comes from the run's context (``user_id`` / ``agent_id`` / ``run_id``, attributes or keys), or from
  ``scope=``, a function of the context.
- ``EngramSession``: the conversation's history in the same store as its long-term memory. Each turn's
  messages are given to ``add`` in scope (``user_id``, ``run_id`` = the session id): they become the
  session's episodes, which ``get_items`` returns in order, and the memories engram keeps from them
  (``infer=True``: the facts an LLM extracts; ``infer=False``: the messages as said), which a search
  in any later session of the user finds.

What a session keeps of a turn: the text of user and assistant messages. Tool calls, their outputs and
reasoning items are not kept (an episode is a role, a name and text), so a later run sees what was
said, not how the agent worked it out. ``pop_item`` is not supported: no engram verb removes a single
message yet (``clear_session`` removes the whole session, with the memories kept from it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engram.errors import ConfigError
from engram.integrations import _tools
from engram.integrations._engram import AnyMemory, EngramHandle, missing_extra, scope_carried, scope_ids

try:
    from agents import FunctionTool, RunContextWrapper, function_tool
    from agents.items import TResponseInputItem
    from agents.memory import SessionSettings
except ImportError as exc:  # pragma: no cover - exercised by the import-guard test in a clean process
    raise missing_extra("openai_agents", "openai-agents") from exc

KEPT_ROLES = ("user", "assistant")  # what an episode can hold of a turn
MAX_HISTORY = 10_000  # items get_items returns when asked for all of them
ScopeOf = Callable[[Any], Mapping[str, str]]


def scope_from_context(context: Any) -> dict[str, str]:
    """The scope ids the run's context carries: ``user_id`` / ``agent_id`` / ``run_id``, as attributes or keys."""
    scope = scope_carried(context)
    if not scope:
        raise ConfigError(
            "engram's memory tools take the scope from the run's context: run with context={'user_id': ...} "
            "(or an object with a user_id), or pass memory_tools(..., scope=lambda context: {...})"
        )
    return scope


def memory_tools(
    memory: AnyMemory,
    *,
    scope: ScopeOf = scope_from_context,
    infer: bool = False,
    limit: int = _tools.DEFAULT_LIMIT,
) -> list[FunctionTool]:
    """``search_memory``, ``remember`` and ``forget_memory`` as the SDK's function tools.

    An error the agent can fix comes back to it as the tool's output, saying what to fix; any other
    (no scope in the context, a provider or storage failure) is raised to the application, which
    the SDK's default (a generic "an error occurred" for the model) would hide."""
    engram = EngramHandle(memory)

    @function_tool(
        name_override="search_memory", description_override=_tools.SEARCH_DESCRIPTION, failure_error_function=None
    )
    async def search_memory(ctx: RunContextWrapper[Any], query: str) -> str:
        return await engram.arun(_tools.search_memory(query, scope(ctx.context), limit=limit))

    @function_tool(
        name_override="remember", description_override=_tools.REMEMBER_DESCRIPTION, failure_error_function=None
    )
    async def remember(ctx: RunContextWrapper[Any], text: str) -> str:
        return await engram.arun(_tools.remember(text, scope(ctx.context), infer=infer))

    @function_tool(
        name_override="forget_memory", description_override=_tools.FORGET_DESCRIPTION, failure_error_function=None
    )
    async def forget_memory(ctx: RunContextWrapper[Any], memory_id: str) -> str:
        return await engram.arun(_tools.forget(memory_id, scope(ctx.context)))

    return [search_memory, remember, forget_memory]


class EngramSession:
    """The SDK's ``Session`` protocol on engram: a session is a run of the user (``run_id`` = its id),
    on any face (``Memory``, ``AsyncMemory``, or a client of engram's server)."""

    session_settings: SessionSettings | None = None

    def __init__(
        self,
        session_id: str,
        memory: AnyMemory,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        infer: bool = False,
    ) -> None:
        self.session_id = session_id
        self.engram = EngramHandle(memory)
        self.scope = scope_ids(user_id=user_id, agent_id=agent_id, run_id=session_id)
        self.infer = infer

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The session's latest ``limit`` messages (all of them by default), oldest first."""
        said = await self._said(limit or MAX_HISTORY)
        items: list[TResponseInputItem] = [{"role": role, "content": content} for role, content in said]  # type: ignore[misc]
        return items

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Give the turn's messages to engram: they become episodes, and memories by the infer mode."""
        messages = [message for item in items if (message := _message_of(item)) is not None]
        if messages:
            await self.engram.acall("add", messages, **self.scope, infer=self.infer)

    async def pop_item(self) -> TResponseInputItem | None:
        raise ConfigError(
            "EngramSession cannot remove a single message: engram has no verb that deletes one episode; "
            "clear_session() removes the whole session"
        )

    async def clear_session(self) -> None:
        """Delete the session: its messages and the memories kept from them."""
        await self.engram.acall("delete_all", **self.scope)

    async def _said(self, limit: int) -> list[tuple[str, str]]:
        """The role and text of the session's latest ``limit`` episodes, oldest first."""
        listed = await self.engram.acall("list_episodes", **self.scope, limit=limit)
        return [(episode["role"], episode["content"]) for episode in listed["results"]]


def _message_of(item: TResponseInputItem) -> dict[str, str] | None:
    """The text message an item holds, or None for what an episode cannot hold (tool calls, reasoning)."""
    data: Mapping[str, Any] = item if isinstance(item, Mapping) else {}
    role = data.get("role")
    if role not in KEPT_ROLES or data.get("type", "message") != "message":
        return None
    text = _text_of(data.get("content"))
    return {"role": str(role), "content": text} if text.strip() else None


def _text_of(content: Any) -> str:
    """The text of a message's content: a string, or the text of its parts (input_text, output_text)."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


__all__ = ["EngramSession", "memory_tools", "scope_from_context"]
