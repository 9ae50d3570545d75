"""pydantic-ai: a toolset of memory tools for an ``Agent`` (``pip install 'engramdb[pydantic-ai]'``).

    from dataclasses import dataclass
    from pydantic_ai import Agent
    from engram import AsyncMemory
    from engram.integrations.pydantic_ai import EngramToolset

    @dataclass
    class Deps:
        user_id: str

    agent = Agent("openai:gpt-5-mini", deps_type=Deps, toolsets=[EngramToolset(AsyncMemory())])
    agent.run_sync("I'm vegetarian", deps=Deps(user_id="alice"))

The scope of every call is taken from the run's ``deps``: by default its ``user_id``, ``agent_id``
and ``run_id`` (attributes, or keys of a dict); pass ``scope=`` a function of the deps to map them
otherwise. The tools are async, and run engram's sync faces in a worker thread, so the agent's event
loop is never blocked. A ``ValidationError`` comes back to the model as a failed tool call
(``ToolFailed``) that says what to fix; the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engram.errors import ConfigError
from engram.integrations import _tools
from engram.integrations._engram import AnyMemory, EngramHandle, ToolFailure, missing_extra, scope_carried

try:
    from pydantic_ai import FunctionToolset, RunContext
    from pydantic_ai.exceptions import ToolFailed
except ImportError as exc:  # pragma: no cover - exercised by the import-guard test in a clean process
    raise missing_extra("pydantic_ai", "pydantic-ai") from exc

ScopeOf = Callable[[Any], Mapping[str, str]]


def scope_from_deps(deps: Any) -> dict[str, str]:
    """The scope ids a run's deps carry: ``user_id`` / ``agent_id`` / ``run_id``, as attributes or keys."""
    scope = scope_carried(deps)
    if not scope:
        raise ConfigError(
            "engram's toolset takes the scope from the run's deps: give them a user_id (or agent_id, run_id), "
            "or pass EngramToolset(..., scope=lambda deps: {'user_id': ...})"
        )
    return scope


class EngramToolset(FunctionToolset[Any]):
    """``search_memory``, ``remember`` and (unless ``forget=False``) ``forget_memory``, scoped by the deps."""

    def __init__(
        self,
        memory: AnyMemory,
        *,
        scope: ScopeOf = scope_from_deps,
        infer: bool = False,
        limit: int = _tools.DEFAULT_LIMIT,
        forget: bool = True,
    ) -> None:
        super().__init__(id="engram")
        self.engram = EngramHandle(memory)
        self.scope_of = scope
        self.infer = infer
        self.limit = limit
        self.add_function(self._search_memory, name="search_memory", description=_tools.SEARCH_DESCRIPTION)
        self.add_function(self._remember, name="remember", description=_tools.REMEMBER_DESCRIPTION)
        if forget:
            self.add_function(self._forget_memory, name="forget_memory", description=_tools.FORGET_DESCRIPTION)

    async def _search_memory(self, ctx: RunContext[Any], query: str) -> str:
        return _answer(await self.engram.arun(_tools.search_memory(query, self.scope_of(ctx.deps), limit=self.limit)))

    async def _remember(self, ctx: RunContext[Any], text: str) -> str:
        return _answer(await self.engram.arun(_tools.remember(text, self.scope_of(ctx.deps), infer=self.infer)))

    async def _forget_memory(self, ctx: RunContext[Any], memory_id: str) -> str:
        return _answer(await self.engram.arun(_tools.forget(memory_id, self.scope_of(ctx.deps))))


def _answer(text: str) -> str:
    if isinstance(text, ToolFailure):
        raise ToolFailed(str(text))
    return text


__all__ = ["EngramToolset", "scope_from_deps"]
