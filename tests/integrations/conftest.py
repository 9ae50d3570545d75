"""Fixtures shared by the integration tests: engram on a temporary SQLite file (the real local embedder),
in each face an integration accepts, and LLM answers scripted for ``infer=True``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engram import AsyncMemory, Memory
from engram.embedders.local_minilm import LocalMiniLM
from engram.llms.scripted import ScriptedLLM


def sqlite_config(path: Path) -> dict[str, Any]:
    return {"vector_store": {"provider": "sqlite", "config": {"path": str(path)}}}


def facts(*texts: str) -> str:
    """engram's extraction answer (infer=True) that keeps these facts, each said by the first message."""
    return json.dumps({"facts": [{"text": text, "sources": [0]} for text in texts]})


@pytest.fixture
def async_memory(db_path: Path, embedder: LocalMiniLM) -> Iterator[AsyncMemory]:
    memory = AsyncMemory(sqlite_config(db_path), embedder=embedder)
    yield memory
    memory.sync.close()


@pytest.fixture
def memory_with_llm(db_path: Path, embedder: LocalMiniLM, scripted: ScriptedLLM) -> Iterator[Memory]:
    """A Memory whose LLM (the memory manager of infer=True) replays ``scripted.answers``."""
    with Memory(sqlite_config(db_path), embedder=embedder, llm=scripted) as memory:
        yield memory
