"""What every integration shares: one handle on any face of engram, scopes, and the agent's error text.

An integration takes whatever the application already has (``Memory``, ``AsyncMemory``,
``MemoryClient`` or ``AsyncMemoryClient``) and calls verbs through :class:`EngramHandle`, which
runs them the right way from sync code (``call``) and from async code (``acall``): a sync face
runs in a worker thread there, so a framework's event loop is never blocked by an embedding.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Generator, Mapping
from typing import Any, TypeVar

from engram.aio import AsyncMemory
from engram.client import AsyncMemoryClient, MemoryClient
from engram.errors import ConfigError, EngramError, NotFoundError, ValidationError
from engram.memory import Memory
from engram.models import SCOPE_KEYS

AnyMemory = Memory | AsyncMemory | MemoryClient | AsyncMemoryClient
"""Every face of engram an integration accepts: embedded or over a server, sync or async."""

T = TypeVar("T")

VerbCall = tuple[str, tuple[Any, ...], dict[str, Any]]
Steps = Generator[VerbCall, Any, T]
"""Work on engram, free of I/O: a generator that yields the verb calls it needs and is sent back
their results (or thrown their errors). ``EngramHandle.run`` drives it from sync code and
``arun`` from async code, so an integration writes each operation once (as httpx's auth flows)."""


def verb(name: str, *args: Any, **kwargs: Any) -> VerbCall:
    """A call of the verb ``name`` (``search``, ``add``, ...) for a :data:`Steps` generator to yield."""
    return name, args, kwargs


AGENT_FIXABLE = (ValidationError, NotFoundError)
"""Errors the agent can act on (a wrong argument, an unknown id): they come back to it as tool
messages. Configuration, provider and storage failures are the operator's and propagate."""


def missing_extra(module: str, extra: str) -> ConfigError:
    """The error for importing an integration whose framework is not installed."""
    return ConfigError(
        f"engram.integrations.{module} needs its framework, which is not installed: "
        f"run `pip install 'engramdb[{extra}]'`"
    )


def scope_ids(*, user_id: str | None = None, agent_id: str | None = None, run_id: str | None = None) -> dict[str, str]:
    """The scope keywords of a verb call, leaving out those not set."""
    given = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
    return {key: value for key, value in given.items() if value is not None}


def scope_carried(source: Any) -> dict[str, str]:
    """The scope ids a run carries (a mapping's keys or an object's attributes ``user_id`` /
    ``agent_id`` / ``run_id``), leaving out those not set."""
    if isinstance(source, Mapping):
        found = {key: source.get(key) for key in SCOPE_KEYS}
    else:
        found = {key: getattr(source, key, None) for key in SCOPE_KEYS}
    return {key: str(value) for key, value in found.items() if value}


class ToolFailure(str):
    """A tool's answer that reports a failure: frameworks that mark failed tool calls (a LangChain
    ``ToolMessage`` with status "error", pydantic-ai's ``ToolFailed``) mark this one so."""


def tool_error(action: str, error: EngramError) -> ToolFailure:
    """The text a tool returns to the agent when engram refused its call: what failed, and why
    (engram's messages say what to fix)."""
    return ToolFailure(f"Error: could not {action}: {type(error).__name__}: {error}")


class EngramHandle:
    """One face of engram, callable from sync and async code alike."""

    def __init__(self, memory: AnyMemory) -> None:
        if not isinstance(memory, AnyMemory):
            raise ConfigError(
                f"expected a Memory, AsyncMemory, MemoryClient or AsyncMemoryClient, got {type(memory).__name__}"
            )
        self.memory = memory

    @property
    def is_async(self) -> bool:
        return isinstance(self.memory, AsyncMemory | AsyncMemoryClient)

    def call(self, verb: str, *args: Any, **kwargs: Any) -> Any:
        """Run a verb from sync code."""
        if isinstance(self.memory, AsyncMemoryClient):
            raise ConfigError(
                "an AsyncMemoryClient cannot serve a synchronous call: give the integration a "
                "MemoryClient (or call its async methods)"
            )
        target = self.memory.sync if isinstance(self.memory, AsyncMemory) else self.memory
        method: Callable[..., Any] = getattr(target, verb)
        return method(*args, **kwargs)

    async def acall(self, verb: str, *args: Any, **kwargs: Any) -> Any:
        """Run a verb from async code without blocking the event loop."""
        method: Callable[..., Any] = getattr(self.memory, verb)
        if self.is_async:
            return await method(*args, **kwargs)
        return await asyncio.to_thread(functools.partial(method, *args, **kwargs))

    def run(self, steps: Steps[T]) -> T:
        """Drive ``steps`` from sync code; an engram error is thrown into it, where it may be handled."""
        try:
            call = next(steps)
            while True:
                name, args, kwargs = call
                try:
                    outcome = self.call(name, *args, **kwargs)
                except EngramError as error:
                    call = steps.throw(error)
                else:
                    call = steps.send(outcome)
        except StopIteration as done:
            result: T = done.value
            return result

    async def arun(self, steps: Steps[T]) -> T:
        """Drive ``steps`` from async code, as ``run`` does."""
        try:
            call = next(steps)
            while True:
                name, args, kwargs = call
                try:
                    outcome = await self.acall(name, *args, **kwargs)
                except EngramError as error:
                    call = steps.throw(error)
                else:
                    call = steps.send(outcome)
        except StopIteration as done:
            result: T = done.value
            return result


def text_of(item: Mapping[str, Any]) -> str:
    """A memory as one line for a model: its text, and when it was stored."""
    when = str(item.get("valid_from") or item.get("created_at") or "")[:10]
    return f"{item['memory']} (since {when})" if when else str(item["memory"])


__all__ = [
    "AGENT_FIXABLE",
    "AnyMemory",
    "EngramHandle",
    "Steps",
    "ToolFailure",
    "VerbCall",
    "missing_extra",
    "scope_ids",
    "text_of",
    "tool_error",
    "verb",
]
