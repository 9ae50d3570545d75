"""The server's settings and the parts a request reaches through ``request.app.state``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request

from engram.config import DEFAULT_HOME, HOME_ENV
from engram.errors import ConfigError

if TYPE_CHECKING:
    from engram.server.jobs import JobRunner
    from engram.server.projects import ProjectMemories
    from engram.server.store import ServerStore

ADMIN_KEY_ENV = "ENGRAM_ADMIN_KEY"
DATA_DIR_ENV = "ENGRAM_SERVER_DIR"
CONFIG_ENV = "ENGRAM_SERVER_CONFIG"
DEFAULT_MAX_BODY_BYTES = 1_000_000  # a long conversation is ~100 kB; anything bigger is a mistake or abuse


def load_config_file(path: str, *, what: str = "the config file") -> dict[str, Any]:
    """A JSON Memory config from a file; the error names the file and where it came from."""
    try:
        config = json.loads(Path(path).expanduser().read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"{what} {path} must hold a JSON object")
    return config


def default_data_dir() -> Path:
    """``$ENGRAM_SERVER_DIR``, else ``$ENGRAM_HOME/server``, else ``~/.engram/server``."""
    if explicit := os.environ.get(DATA_DIR_ENV):
        return Path(explicit).expanduser()
    return Path(os.environ.get(HOME_ENV, DEFAULT_HOME)).expanduser() / "server"


@dataclass
class ServerSettings:
    data_dir: Path = field(default_factory=default_data_dir)
    memory_config: Mapping[str, Any] | None = None
    admin_key: str | None = None  # None: no admin; keys are then made with `engram keys create`
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_open_projects: int = 256  # idle project stores kept open (3 file descriptors each)
    job_workers: int = 2
    job_poll_s: float = 1.0  # how often idle workers look for jobs another process queued
    job_stale_after_s: float = 60.0  # a running job whose worker stopped beating this long has failed
    job_retention_s: float = 7 * 24 * 3600.0  # finished jobs are deleted this long after they finish
    # Projects whose store is given rather than derived (`engram ui` serves the embedded store this way):
    # project -> a vector_store config, {"provider": ..., "config": {...}}.
    project_stores: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: Any) -> ServerSettings:
        """Settings from ``ENGRAM_ADMIN_KEY``, ``ENGRAM_SERVER_DIR`` and ``ENGRAM_SERVER_CONFIG``
        (a JSON Memory config file), then ``overrides`` (those that are not None)."""
        settings = cls(admin_key=os.environ.get(ADMIN_KEY_ENV) or None)
        if config_path := os.environ.get(CONFIG_ENV):
            settings.memory_config = load_config_file(config_path, what=CONFIG_ENV)
        for name, value in overrides.items():
            if value is not None:
                setattr(settings, name, value)
        return settings

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "data_dir": str(self.data_dir)})

    @classmethod
    def from_json(cls, text: str) -> ServerSettings:
        fields = json.loads(text)
        return cls(**{**fields, "data_dir": Path(fields["data_dir"])})

    @property
    def store_path(self) -> Path:
        """The SQLite file of keys and jobs, when the server is not on PostgreSQL."""
        return self.data_dir / "server.db"

    def open_store(self) -> ServerStore:
        """The store of keys and jobs: PostgreSQL when the memories are there (a ``pgvector``
        vector_store, or ``$ENGRAM_DATABASE_URL`` with none), else ``server.db`` in the data directory."""
        from engram.config import MemoryConfig
        from engram.server.projects import postgres_settings, server_schema
        from engram.server.store import SQLiteServerStore

        settings = postgres_settings(MemoryConfig.parse(self.memory_config))
        if settings is None:
            return SQLiteServerStore(self.store_path)
        from engram.server.store_postgres import PostgresServerStore
        from engram.storage import postgres_url

        url, rest = postgres_url(settings)
        return PostgresServerStore(url, schema=server_schema(str(rest.get("schema") or "engram")))


@dataclass
class ServerState:
    settings: ServerSettings
    store: ServerStore
    memories: ProjectMemories
    jobs: JobRunner


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.engram
    return state
