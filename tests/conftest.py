"""Shared fixtures: a fresh Memory on a temporary SQLite file, with the real local embedder.

The backend fixtures (``memory_factory``, ``backend_memory``, ``store_factory``: every test that uses
them runs on SQLite and on PostgreSQL + pgvector) live in conftest_pg.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engram import Memory
from engram.embedders.local_minilm import LocalMiniLM
from engram.llms.scripted import ScriptedLLM
from provider_env import PROVIDER_VARIABLES

pytest_plugins = ["conftest_pg"]


@pytest.fixture(autouse=True)
def no_provider_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real keys, so none can reach a real provider; and no test loads
    the installed offline model unless it asks for it (it takes seconds to start)."""
    for name in PROVIDER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENGRAM_LOCAL_MODEL", "off")


@pytest.fixture(scope="session")
def embedder() -> LocalMiniLM:
    """The packaged default embedder, loaded once for the whole run."""
    return LocalMiniLM()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "engram.db"


@pytest.fixture
def memory(db_path: Path, embedder: LocalMiniLM) -> Iterator[Memory]:
    with Memory({"vector_store": {"provider": "sqlite", "config": {"path": str(db_path)}}}, embedder=embedder) as m:
        yield m


@pytest.fixture
def scripted() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def smart_memory(db_path: Path, embedder: LocalMiniLM, scripted: ScriptedLLM) -> Iterator[Memory]:
    """A Memory whose LLM replays the answers a test puts into ``scripted.answers``."""
    config = {"vector_store": {"provider": "sqlite", "config": {"path": str(db_path)}}}
    with Memory(config, embedder=embedder, llm=scripted) as m:
        yield m
