"""One ``Memory`` per project: how the server keeps projects apart.

Each project gets its own store (on SQLite, its own file
``<data_dir>/projects/<project>.db``), so a memory id of another project is
simply not in the store the request reaches: get answers 404, and so do
update, delete and history, with no id check that a route could forget. The
embedder and the LLM are built once and shared by every project.

A backend where all projects share one database (Postgres) maps the project
to a namespace in ``store_config_for``; that is the one place to extend.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engram.config import MemoryConfig, ProviderConfig
from engram.embedders import Embedder, build_embedder
from engram.errors import ConfigError
from engram.llms import LLM, build_llm
from engram.memory import Memory
from engram.server.store import check_project
from engram.storage import SQLITE_NAMES


class ProjectMemories:
    """Opens (once) and hands out the Memory of each project."""

    def __init__(
        self,
        config: MemoryConfig | Mapping[str, Any] | None,
        data_dir: Path,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
    ) -> None:
        self.config = MemoryConfig.parse(config)
        self.data_dir = data_dir
        self.embedder = embedder or _build_embedder(self.config)
        if llm is None and self.config.llm is not None:
            llm = build_llm(self.config.llm.provider, self.config.llm.config)
        self.llm = llm
        self._open: dict[str, Memory] = {}
        self._lock = threading.Lock()
        store_config_for(self.config, data_dir, "check")  # fail at start, not on the first request

    def get(self, project: str) -> Memory:
        check_project(project)
        with self._lock:
            memory = self._open.get(project)
            if memory is None:
                config = self.config.model_copy(
                    update={"vector_store": store_config_for(self.config, self.data_dir, project)}
                )
                memory = Memory(config, embedder=self.embedder, llm=self.llm)
                self._open[project] = memory
            return memory

    def close(self) -> None:
        with self._lock:
            for memory in self._open.values():
                memory.close()
            self._open.clear()


def store_config_for(config: MemoryConfig, data_dir: Path, project: str) -> ProviderConfig:
    """The store settings of one project."""
    provider = config.vector_store.provider if config.vector_store else "sqlite"
    if provider not in SQLITE_NAMES:
        raise ConfigError(
            f"the server keeps one store per project and supports the sqlite store so far, "
            f"not {provider!r}: remove vector_store from the server config"
        )
    return ProviderConfig(provider="sqlite", config={"path": str(data_dir / "projects" / f"{project}.db")})


def _build_embedder(config: MemoryConfig) -> Embedder:
    if config.embedder is None:
        return build_embedder()
    return build_embedder(config.embedder.provider, config.embedder.config)
