"""One ``Memory`` per project: how the server keeps projects apart.

Each project gets its own store (on SQLite, its own file
``<data_dir>/projects/<project>.db``), so a memory id of another project is
simply not in the store the request reaches: get answers 404, and so do
update, delete and history, with no id check that a route could forget. The
embedder and the LLM are built once and shared by every project.

On Postgres (a ``pgvector`` vector_store in the server config, or
``$ENGRAM_DATABASE_URL`` with none), where all projects share one database,
each project gets its own schema (``project_schema``): the same separation,
with the same tables. The server's keys and jobs sit in ``server_schema``
beside them. ``store_config_for`` is the one place that maps a project to its store.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engram.config import MemoryConfig, ProviderConfig
from engram.embedders import Embedder, build_embedder
from engram.errors import ConfigError
from engram.llms import LLM, build_llm
from engram.memory import Memory
from engram.providers import STORES
from engram.server.store import check_project
from engram.storage import DATABASE_URL_ENV

MAX_IDENTIFIER = 63  # Postgres truncates longer names
DEFAULT_MAX_OPEN = 256  # x3 file descriptors each (database, WAL, shared memory)


@dataclass
class _Open:
    memory: Memory
    users: int = 0  # requests holding a lease: an entry in use is never closed


class ProjectMemories:
    """Opens and hands out the Memory of each project, keeping at most ``max_open`` idle ones open.

    The bound keeps a server with thousands of projects under its file-descriptor limit: the least
    recently used project that no request is using is closed, and opened again when asked for.
    """

    def __init__(
        self,
        config: MemoryConfig | Mapping[str, Any] | None,
        data_dir: Path,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
        max_open: int = DEFAULT_MAX_OPEN,
        project_stores: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.config = on_database_from_environment(MemoryConfig.parse(config))
        self.project_stores = {
            project: ProviderConfig.model_validate(dict(store)) for project, store in (project_stores or {}).items()
        }
        self.data_dir = data_dir
        self.embedder = embedder or _build_embedder(self.config)
        if llm is None and self.config.llm is not None:
            llm = build_llm(self.config.llm.provider, self.config.llm.config)
        self.llm = llm
        self.max_open = max_open
        self._open: OrderedDict[str, _Open] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()
        store_config_for(self.config, data_dir, "check")  # fail at start, not on the first request

    @contextmanager
    def lease(self, project: str) -> Iterator[Memory]:
        """The project's Memory, kept open while the ``with`` block uses it."""
        check_project(project)
        with self._lock:
            entry = self._open.get(project)
            if entry is None:
                store = self.project_stores.get(project) or store_config_for(self.config, self.data_dir, project)
                config = self.config.model_copy(update={"vector_store": store})
                entry = self._open[project] = _Open(Memory(config, embedder=self.embedder, llm=self.llm))
            self._open.move_to_end(project)
            entry.users += 1
        try:
            yield entry.memory
        finally:
            with self._lock:
                entry.users -= 1
                self._close_idle_beyond(self.max_open)

    def open_projects(self) -> list[str]:
        with self._lock:
            return list(self._open)

    def close(self) -> None:
        with self._lock:
            self._close_idle_beyond(0)

    def _close_idle_beyond(self, keep: int) -> None:
        """Close least recently used idle Memories until at most ``keep`` are open (lock held)."""
        for project in [name for name, entry in self._open.items() if entry.users == 0]:
            if len(self._open) <= keep:
                return
            self._open.pop(project).memory.close()


def store_config_for(config: MemoryConfig, data_dir: Path, project: str) -> ProviderConfig:
    """The store settings of one project: its own SQLite file, or its own Postgres schema."""
    provider = config.vector_store.provider if config.vector_store else "sqlite"
    if STORES.canonical(provider) == "sqlite":
        return ProviderConfig(provider="sqlite", config={"path": str(data_dir / "projects" / f"{project}.db")})
    if STORES.canonical(provider) == "postgres" and config.vector_store is not None:
        settings = dict(config.vector_store.config)
        schema = project_schema(str(settings.get("schema") or "engram"), project)
        return ProviderConfig(provider=provider, config={**settings, "schema": schema})
    raise ConfigError(
        f"the server keeps one store per project, on sqlite or pgvector, not {provider!r}: "
        "change vector_store in the server config"
    )


def on_database_from_environment(config: MemoryConfig) -> MemoryConfig:
    """The config, on PostgreSQL at ``$ENGRAM_DATABASE_URL`` when it names no store (as for ``Memory``)."""
    if config.vector_store is None and (url := os.environ.get(DATABASE_URL_ENV)):
        return config.model_copy(update={"vector_store": ProviderConfig(provider="pgvector", config={"url": url})})
    return config


def postgres_settings(config: MemoryConfig) -> dict[str, Any] | None:
    """The pgvector settings when the server keeps its data in PostgreSQL, else None (SQLite)."""
    config = on_database_from_environment(config)
    if config.vector_store is not None and STORES.canonical(config.vector_store.provider) == "postgres":
        return dict(config.vector_store.config)
    return None


def server_schema(base: str) -> str:
    """The schema of the server's keys, projects and jobs, next to the projects' schemas."""
    return f"{_schema_prefix(base)}_server"


def _schema_prefix(base: str) -> str:
    prefix = "engram" if base == "public" else base
    if len(prefix) > MAX_IDENTIFIER - 20:  # room for at least ten readable characters and the hash
        raise ConfigError(f"the schema {base!r} is too long to name a schema per project: use a shorter one")
    return prefix


def project_schema(base: str, project: str) -> str:
    """A Postgres schema per project: a plain identifier, readable, and distinct for distinct projects.

    Project names may hold '-', which identifiers may not; the hash suffix keeps "a-b" and "a_b" apart.
    """
    prefix = _schema_prefix(base)
    readable = project.replace("-", "_")[: max(0, MAX_IDENTIFIER - len(prefix) - 10)]
    return f"{prefix}_{readable}_{hashlib.sha256(project.encode()).hexdigest()[:8]}"


def _build_embedder(config: MemoryConfig) -> Embedder:
    if config.embedder is None:
        return build_embedder()
    return build_embedder(config.embedder.provider, config.embedder.config)
