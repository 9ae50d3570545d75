"""Stores, chosen by ``vector_store.provider`` in the config."""

from __future__ import annotations

from pathlib import Path

from engram.config import MemoryConfig
from engram.errors import ConfigError
from engram.storage.base import Query, Store, StoredMessage
from engram.storage.sqlite import SQLiteStore

SQLITE_NAMES = ("sqlite", "sqlite3", "local")


def build_store(config: MemoryConfig, *, default_path: Path) -> Store:
    """The store the config names; the SQLite file at ``default_path`` when it names none."""
    vector_store = config.vector_store
    provider = vector_store.provider if vector_store else "sqlite"
    settings = dict(vector_store.config) if vector_store else {}
    if provider in SQLITE_NAMES:
        path = settings.pop("path", None) or settings.pop("db_path", None) or config.history_db_path
        if settings:
            raise ConfigError(f"unknown settings for the sqlite store: {', '.join(sorted(settings))}")
        return SQLiteStore(path or default_path)
    raise ConfigError(f"unknown vector_store provider {provider!r}; known: sqlite")


__all__ = ["Query", "SQLiteStore", "Store", "StoredMessage", "build_store"]
