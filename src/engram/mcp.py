"""``engram mcp``: engram's verbs as MCP tools, for agents (official ``mcp`` SDK).

    engram mcp --user-id alice                          # stdio, embedded Memory
    engram mcp --transport http --port 8765             # streamable HTTP at /mcp
    engram mcp --server-url http://127.0.0.1:8000 --api-key ek_...   # over an engram server

The tools work on a ``Memory`` or a ``MemoryClient`` alike: they only call the
public verbs. An MCP server started with ``--user-id`` / ``--agent-id`` is
bound to that scope: a call may not name another one, and a memory id outside
it is "not found", so one agent cannot read another user's memories by id.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations to build their schemas.

import functools
from collections.abc import Callable, Mapping
from typing import Any

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(f"engram's MCP server needs the server extra: pip install 'engramdb[server]' ({exc})") from exc

from engram.client import MemoryClient
from engram.errors import ConfigError, EngramError, NotFoundError, ValidationError
from engram.memory import Memory
from engram.pipeline.entities import normalise_name
from engram.results import AddResult, EpisodeItem, EraseReceipt, MemoryItem, MemoryList, MessageResult, SearchResult

INSTRUCTIONS = (
    "Long-term memory. Search it before answering questions about the user; add facts worth "
    "remembering (preferences, plans, names) as they come up."
)

MemoryLike = Memory | MemoryClient


def memory_for_mcp(
    *,
    config: Mapping[str, Any] | None = None,
    server_url: str | None = None,
    api_key: str | None = None,
) -> MemoryLike:
    """An engram server's client when a URL is given, else an embedded Memory."""
    if server_url:
        return MemoryClient(api_key, host=server_url)
    return Memory(config)


class MemoryTools:
    """The tools, over one Memory (or client), optionally bound to a user and/or agent."""

    def __init__(self, memory: MemoryLike, *, user_id: str | None = None, agent_id: str | None = None):
        self.memory = memory
        self.bound = {key: value for key, value in (("user_id", user_id), ("agent_id", agent_id)) if value}

    def _scope(self, user_id: str | None, agent_id: str | None, run_id: str | None) -> dict[str, Any]:
        given = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
        for key, bound in self.bound.items():
            if given[key] and given[key] != bound:
                raise ValidationError(f"this memory server is bound to {key}={bound!r}")
            given[key] = bound
        return {key: value for key, value in given.items() if value}

    def _owned(self, memory_id: str) -> MemoryItem:
        item = self.memory.get(memory_id)
        if item is None or any(item.get(key) != value for key, value in self.bound.items()):
            raise NotFoundError(f"no memory has id {memory_id!r}")
        return item

    def add_memory(
        self,
        text: str,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        infer: bool = True,
    ) -> AddResult:
        """Remember something. With infer=true an LLM extracts the facts and merges them with the rest."""
        return self.memory.add(text, **self._scope(user_id, agent_id, run_id), metadata=metadata, infer=infer)

    def search_memories(
        self,
        query: str,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int = 10,
        filters: dict[str, Any] | None = None,
        as_of: str | None = None,
        explain: bool = False,
        episodes: int = 0,
    ) -> SearchResult:
        """The memories most relevant to a question, best first, each with a score. With as_of (an ISO date
        or datetime), what was true then instead of now; with explain=true, the signals behind each score;
        with episodes=n, also the n messages that best match beyond those the results came from."""
        return self.memory.search(
            query,
            **self._scope(user_id, agent_id, run_id),
            limit=limit,
            filters=filters,
            as_of=as_of,
            explain=explain,
            episodes=episodes,
        )

    def list_memories(
        self,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
        as_of: str | None = None,
    ) -> MemoryList:
        """Every memory of a user, agent or run, newest first. With as_of (an ISO date or datetime), the
        memories as they were then."""
        return self.memory.get_all(**self._scope(user_id, agent_id, run_id), limit=limit, as_of=as_of)

    def get_memory(self, memory_id: str) -> MemoryItem:
        """One memory by its id."""
        return self._owned(memory_id)

    def get_memory_episodes(self, memory_id: str) -> list[EpisodeItem]:
        """The messages a memory came from, as they were said, oldest first."""
        self._owned(memory_id)
        return self.memory.episodes(memory_id)

    def update_memory(self, memory_id: str, text: str) -> MessageResult:
        """Replace the text of a memory."""
        self._owned(memory_id)
        return self.memory.update(memory_id, text)

    def delete_memory(self, memory_id: str) -> MessageResult:
        """Forget one memory (its history is kept)."""
        self._owned(memory_id)
        return self.memory.delete(memory_id)

    def delete_all_memories(
        self, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> MessageResult:
        """Forget every memory of a user, agent or run."""
        return self.memory.delete_all(**self._scope(user_id, agent_id, run_id))

    def erase_memories(
        self, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None
    ) -> EraseReceipt:
        """Erase everything of a user, agent or run, leaving no text behind (a person's right to be
        forgotten): memories, their versions and history text, messages and graph. Returns the receipt."""
        return self.memory.erase(**self._scope(user_id, agent_id, run_id))

    def entity_relations(
        self,
        entity: str,
        user_id: str | None = None,
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """What the memory graph knows about one entity (a person, place, thing): its current
        relations, e.g. {"source": "Alice", "relationship": "lives_in", "destination": "Rome"}."""
        found = self.memory.search(entity, **self._scope(user_id, agent_id, run_id), limit=limit)
        if "relations" not in found:
            raise ConfigError('graph memory is off: enable it with "graph_store": {"provider": "sqlite"} (or postgres)')
        wanted = normalise_name(entity)
        relations = [
            relation
            for relation in found["relations"]
            if wanted in (normalise_name(relation["source"]), normalise_name(relation["destination"]))
        ]
        return {"entity": entity, "relations": relations}


TOOL_NAMES = (
    "add_memory",
    "search_memories",
    "list_memories",
    "get_memory",
    "get_memory_episodes",
    "update_memory",
    "delete_memory",
    "delete_all_memories",
    "erase_memories",
    "entity_relations",
)


def _reported(tool: Callable[..., Any]) -> Callable[..., Any]:
    """engram's errors reach the agent as tool errors with their message (the SDK hides others)."""

    @functools.wraps(tool)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return tool(*args, **kwargs)
        except EngramError as exc:
            raise ToolError(f"{type(exc).__name__}: {exc}") from exc

    return run


def build_mcp_server(memory: MemoryLike, *, user_id: str | None = None, agent_id: str | None = None) -> MCPServer:
    """An MCP server whose tools call ``memory``; ``.run("stdio")`` or ``.run("streamable-http")`` it."""
    tools = MemoryTools(memory, user_id=user_id, agent_id=agent_id)
    server = MCPServer("engram", instructions=INSTRUCTIONS)
    for name in TOOL_NAMES:
        server.add_tool(_reported(getattr(tools, name)), name=name)
    return server


__all__ = ["MemoryTools", "build_mcp_server", "memory_for_mcp"]
