"""Google ADK: engram as a ``BaseMemoryService`` (``pip install 'engramdb[adk]'``).

    from google.adk.agents import Agent
    from google.adk.runners import Runner
    from google.adk.tools import load_memory
    from engram import AsyncMemory
    from engram.integrations.adk import EngramMemoryService, tool_errors_to_model

    async def remember_session(callback_context):
        await callback_context.add_session_to_memory()

    agent = Agent(model="gemini-2.5-flash", name="assistant", tools=[load_memory],
                  after_agent_callback=remember_session, on_tool_error_callback=tool_errors_to_model)
    runner = Runner(agent=agent, app_name="my_app", session_service=...,
                    memory_service=EngramMemoryService(AsyncMemory()))

How ADK's ids map onto engram's scopes: ``user_id`` is the user, ``app_name`` the agent
(``agent_id``), and a session's id its run (``run_id``). A search reads the user's memories of that
app across every session.

- ``add_session_to_memory`` / ``add_events_to_memory``: the text of the events becomes one ``add``
  (the user's events as user messages, an agent's as assistant messages named after it, at the time
  of the latest event); ``infer=True`` lets engram's LLM keep the facts. ADK may add a session many
  times: each event is given to engram once per service (and ``infer=False`` never stores a text
  twice in a session, across processes too).
- ``search_memory``: engram's ranking; each ``MemoryEntry`` carries the memory's id, text, author
  (its speaker) and date, and its score in ``custom_metadata``. With ``episodes=n`` the ``n`` messages
  that best match and that no result came from are added (``custom_metadata["kind"] == "episode"``).
- ``add_memory`` stores explicit entries as said; ``delete_memory`` deletes one of the user's memories.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engram.errors import NotFoundError
from engram.integrations._engram import AGENT_FIXABLE, AnyMemory, EngramHandle, missing_extra, tool_error

try:
    from google.adk.memory import BaseMemoryService
    from google.adk.memory.base_memory_service import SearchMemoryResponse
    from google.adk.memory.memory_entry import MemoryEntry
    from google.genai import types
except ImportError as exc:  # pragma: no cover - exercised by the import-guard test in a clean process
    raise missing_extra("adk", "adk") from exc

if TYPE_CHECKING:
    from google.adk.events.event import Event
    from google.adk.sessions.session import Session
    from google.adk.tools.base_tool import BaseTool
    from google.adk.tools.tool_context import ToolContext

DEFAULT_LIMIT = 10  # what ADK's own memory services return at most


class EngramMemoryService(BaseMemoryService):
    """ADK's memory service on any face of engram (embedded, or a server through a client)."""

    def __init__(
        self, memory: AnyMemory, *, infer: bool = False, limit: int = DEFAULT_LIMIT, episodes: int = 0
    ) -> None:
        self.engram = EngramHandle(memory)
        self.infer = infer
        self.limit = limit
        self.episodes = episodes
        self._given: set[tuple[str, str, str, str]] = set()  # (app, user, session, event id) added already
        self._lock = threading.Lock()

    async def add_session_to_memory(self, session: Session) -> None:
        await self.add_events_to_memory(
            app_name=session.app_name, user_id=session.user_id, events=session.events, session_id=session.id
        )

    async def add_events_to_memory(
        self,
        *,
        app_name: str,
        user_id: str,
        events: Sequence[Event],
        session_id: str | None = None,
        custom_metadata: Mapping[str, object] | None = None,
    ) -> None:
        keys = [(app_name, user_id, session_id or "", event.id) for event in events]
        with self._lock:
            fresh = [event for event, key in zip(events, keys, strict=True) if key not in self._given]
            self._given.update(keys)
        messages = [message for event in fresh if (message := _message_of(event)) is not None]
        if not messages:
            return
        when = max(event.timestamp for event in fresh)
        try:
            await self.engram.acall(
                "add",
                messages,
                user_id=user_id,
                agent_id=app_name,
                run_id=session_id,
                infer=self.infer,
                metadata=dict(custom_metadata) if custom_metadata else None,
                timestamp=datetime.fromtimestamp(when, UTC),
            )
        except BaseException:
            with self._lock:  # not stored: the next add of the session tries these events again
                self._given.difference_update(keys)
            raise

    async def add_memory(
        self,
        *,
        app_name: str,
        user_id: str,
        memories: Sequence[MemoryEntry],
        custom_metadata: Mapping[str, object] | None = None,
    ) -> None:
        for entry in memories:
            text = _text_of(entry.content)
            if text.strip():
                metadata = {**entry.custom_metadata, **(custom_metadata or {})}
                await self.engram.acall(
                    "add", text, user_id=user_id, agent_id=app_name, infer=False, metadata=metadata or None
                )

    async def search_memory(self, *, app_name: str, user_id: str, query: str) -> SearchMemoryResponse:
        found = await self.engram.acall(
            "search", query, user_id=user_id, agent_id=app_name, limit=self.limit, episodes=self.episodes
        )
        memories = [_entry(item) for item in found["results"]]
        memories += [_episode_entry(episode) for episode in found.get("episodes", [])]
        return SearchMemoryResponse(memories=memories)

    async def delete_memory(self, *, app_name: str, user_id: str, memory_id: str | None = None) -> None:
        item = await self.engram.acall("get", memory_id) if memory_id else None
        if item is None or item.get("user_id") != user_id or item.get("agent_id") != app_name:
            raise NotFoundError(f"user {user_id!r} of app {app_name!r} has no memory with id {memory_id!r}")
        await self.engram.acall("delete", memory_id)


def tool_errors_to_model(
    tool: BaseTool, args: dict[str, Any], tool_context: ToolContext, error: Exception
) -> dict[str, Any] | None:
    """An ``on_tool_error_callback``: engram's errors that the agent can fix (a ``ValidationError``, an
    unknown id) go back to the model as the tool's result, saying what to fix; any other error is raised."""
    if isinstance(error, AGENT_FIXABLE):
        return {"error": str(tool_error(f"run {tool.name}", error))}
    return None


def _message_of(event: Event) -> dict[str, str] | None:
    text = _text_of(event.content)
    if not text.strip():
        return None
    if event.author == "user":
        return {"role": "user", "content": text}
    return {"role": "assistant", "content": text, "name": event.author}


def _text_of(content: types.Content | None) -> str:
    parts = content.parts if content and content.parts else []
    return "\n".join(part.text for part in parts if part.text and not part.thought)


def _entry(item: Mapping[str, Any]) -> MemoryEntry:
    role = "user" if item.get("role") == "user" else "model"
    return MemoryEntry(
        id=item["id"],
        content=types.Content(role=role, parts=[types.Part(text=item["memory"])]),
        author=item.get("actor_id") or role,
        timestamp=item.get("valid_from") or item["created_at"],
        custom_metadata={**item.get("metadata", {}), "score": item.get("score"), "kind": "memory"},
    )


def _episode_entry(episode: Mapping[str, Any]) -> MemoryEntry:
    role = "user" if episode["role"] == "user" else "model"
    return MemoryEntry(
        id=episode["id"],
        content=types.Content(role=role, parts=[types.Part(text=episode["content"])]),
        author=episode.get("name") or role,
        timestamp=episode["created_at"],
        custom_metadata={"score": episode.get("score"), "kind": "episode"},
    )


__all__ = ["EngramMemoryService", "tool_errors_to_model"]
