"""The four faces take the same arguments: Memory, AsyncMemory, MemoryClient, AsyncMemoryClient.

The clients' verbs are written apart from Memory's (request builders), so their signatures are
compared here; AsyncMemory's verbs forward to Memory's (tests/test_face_parity.py calls them).
"""

from __future__ import annotations

import inspect

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
]


def parameters(cls: type, verb: str) -> list[tuple[str, object, object, object]]:
    signature = inspect.signature(getattr(cls, verb))
    return [(p.name, p.kind, p.default, p.annotation) for p in signature.parameters.values()]


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("face", [MemoryClient, AsyncMemoryClient])
def test_every_client_verb_has_the_signature_of_memory(face: type, verb: str) -> None:
    assert parameters(face, verb) == parameters(Memory, verb)


@pytest.mark.parametrize("verb", VERBS)
def test_async_faces_are_coroutines(verb: str) -> None:
    assert inspect.iscoroutinefunction(getattr(AsyncMemory, verb))
    assert inspect.iscoroutinefunction(getattr(AsyncMemoryClient, verb))
    assert not inspect.iscoroutinefunction(getattr(MemoryClient, verb))
