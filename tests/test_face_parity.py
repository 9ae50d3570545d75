"""The faces forward each verb to the right implementation, with every argument: tests that can fail.

``test_signatures.py`` compares signatures; those of ``AsyncMemory`` are ``Memory``'s by
construction (``functools.wraps``), so here each async verb is called and must reach the sync
verb of the same name with exactly the arguments it was given.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from engram import AsyncMemory, AsyncMemoryClient, Memory, MemoryClient

VERBS = [
    "add",
    "search",
    "get",
    "get_all",
    "update",
    "delete",
    "delete_all",
    "erase",
    "erasures",
    "history",
    "reset",
    "episodes",
    "browse",
]


class Recorder:
    """Stands in for ``Memory``: records which verb was called, with what."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def verb(*args: Any, **kwargs: Any) -> str:
            self.calls.append((name, args, kwargs))
            return f"result of {name}"

        return verb


def _arguments(verb: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A distinct value for every parameter of ``Memory.<verb>``, positional where it may be."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for parameter in list(inspect.signature(getattr(Memory, verb)).parameters.values())[1:]:
        value = f"<{parameter.name}>"
        if parameter.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD:
            args.append(value)
        else:
            kwargs[parameter.name] = value
    return tuple(args), kwargs


@pytest.mark.parametrize("verb", VERBS)
def test_async_memory_runs_the_sync_verb_of_the_same_name_with_every_argument(verb: str) -> None:
    face = AsyncMemory.__new__(AsyncMemory)
    face.sync = Recorder()  # type: ignore[assignment]
    args, kwargs = _arguments(verb)
    result = asyncio.run(getattr(face, verb)(*args, **kwargs))
    assert result == f"result of {verb}"
    assert face.sync.calls == [(verb, args, kwargs)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("face", [MemoryClient, AsyncMemoryClient])
def test_each_client_verb_sends_the_request_its_own_builder_makes(face: type, verb: str) -> None:
    assert getattr(face, verb).__wrapped__.__name__ == f"_build_{verb}"
