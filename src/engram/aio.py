"""``AsyncMemory``: every verb of ``Memory`` as a coroutine, with no second copy of the logic.

Each verb runs the sync implementation in a worker thread, so an event loop
(FastAPI, an agent framework) is never blocked by embedding or LLM calls.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from engram.config import MemoryConfig
from engram.memory import Memory

P = ParamSpec("P")
R = TypeVar("R")


def _in_thread(verb: Callable[Concatenate[Memory, P], R]) -> Callable[Concatenate[AsyncMemory, P], Awaitable[R]]:
    """An async method that runs ``Memory.<verb>`` in a worker thread, typed with its parameters."""

    @functools.wraps(verb)
    async def method(self: AsyncMemory, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound: Callable[P, R] = getattr(self.sync, verb.__name__)
        return await asyncio.to_thread(bound, *args, **kwargs)

    return method


class AsyncMemory:
    """The async face of :class:`Memory`; takes the same arguments."""

    def __init__(self, config: MemoryConfig | Mapping[str, Any] | str | Path | None = None, **parts: Any) -> None:
        self.sync = Memory(config, **parts)

    @classmethod
    async def from_config(cls, config: MemoryConfig | Mapping[str, Any] | str | Path) -> AsyncMemory:
        return await asyncio.to_thread(cls, config)

    @property
    def usage(self) -> Any:
        return self.sync.usage

    add = _in_thread(Memory.add)
    search = _in_thread(Memory.search)
    get = _in_thread(Memory.get)
    get_all = _in_thread(Memory.get_all)
    update = _in_thread(Memory.update)
    delete = _in_thread(Memory.delete)
    delete_all = _in_thread(Memory.delete_all)
    erase = _in_thread(Memory.erase)
    erasures = _in_thread(Memory.erasures)
    history = _in_thread(Memory.history)
    reset = _in_thread(Memory.reset)
    episodes = _in_thread(Memory.episodes)
    close = _in_thread(Memory.close)
    scopes = _in_thread(Memory.scopes)
    browse = _in_thread(Memory.browse)
    stats = _in_thread(Memory.stats)
    prune = _in_thread(Memory.prune)
    consolidate = _in_thread(Memory.consolidate)
    export_jsonl = _in_thread(Memory.export_jsonl)
    import_jsonl = _in_thread(Memory.import_jsonl)

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
