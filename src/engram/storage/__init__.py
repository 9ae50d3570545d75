"""Stores, chosen by ``vector_store.provider`` in the config (or ``$ENGRAM_DATABASE_URL``)."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engram.config import MemoryConfig
from engram.errors import ConfigError
from engram.providers import STORES
from engram.storage.base import Query, Store, StoredMessage
from engram.storage.sqlite import SQLiteStore

if TYPE_CHECKING:
    from engram.storage.postgres import PostgresStore

DATABASE_URL_ENV = "ENGRAM_DATABASE_URL"
# mem0's pgvector config keys, by the name engram uses for them
POSTGRES_ALIASES = {"connection_string": "url", "minconn": "min_connections", "maxconn": "max_connections"}


def build_store(config: MemoryConfig, *, default_path: Path) -> Store:
    """The store the config names (``engram.providers.STORES``); else PostgreSQL at
    ``$ENGRAM_DATABASE_URL``; else the SQLite file."""
    vector_store = config.vector_store
    if vector_store is None and os.environ.get(DATABASE_URL_ENV):
        return build_postgres_store({"url": os.environ[DATABASE_URL_ENV]})
    provider = vector_store.provider if vector_store else "sqlite"
    settings = dict(vector_store.config) if vector_store else {}
    factory = STORES.load(provider)
    return factory(settings, config=config, default_path=default_path)  # type: ignore[no-any-return]


def sqlite_store(settings: dict[str, Any], *, config: MemoryConfig, default_path: Path) -> SQLiteStore:
    """The SQLite file of ``{"path": ...}`` (or mem0's ``history_db_path``), else ``default_path``;
    ``{"synchronous": "full"}`` makes each commit survive a power cut (``normal``: a killed process)."""
    path = settings.pop("path", None) or settings.pop("db_path", None) or config.history_db_path
    synchronous = str(settings.pop("synchronous", "normal")).lower()
    if settings:
        raise ConfigError(f"unknown settings for the sqlite store: {', '.join(sorted(settings))}")
    return SQLiteStore(path or default_path, synchronous=synchronous)  # type: ignore[arg-type]


def postgres_store(settings: dict[str, Any], *, config: MemoryConfig, default_path: Path) -> PostgresStore:
    """PostgreSQL + pgvector from the store's settings (the config's paths do not apply)."""
    return build_postgres_store(settings)


def build_postgres_store(settings: dict[str, Any]) -> PostgresStore:
    """A PostgresStore from ``{"url": ..., "schema": ..., "max_connections": ..., ...}``."""
    from engram.storage.postgres import PostgresSettings, PostgresStore

    url, settings = postgres_url(settings)
    known = {field.name: field.type for field in fields(PostgresSettings)}
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown settings for the pgvector store: {', '.join(unknown)}; known: url, {', '.join(known)}"
        )
    try:
        return PostgresStore(str(url), PostgresSettings(**settings))
    except TypeError as exc:
        raise ConfigError(f"invalid settings for the pgvector store: {exc}") from exc


def postgres_url(settings: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The database URL of a pgvector config (``url``, mem0's keys, or ``$ENGRAM_DATABASE_URL``) and the
    remaining settings, with mem0's names turned into engram's."""
    from engram.storage.postgres import url_from_parts

    settings = {POSTGRES_ALIASES.get(key, key): value for key, value in settings.items()}
    url = settings.pop("url", None) or os.environ.get(DATABASE_URL_ENV) or url_from_parts(settings)
    if not url:
        raise ConfigError(
            f"the pgvector store needs a database: set vector_store.config.url "
            f"(postgresql://user:password@host:5432/db) or ${DATABASE_URL_ENV}"
        )
    return str(url), settings


__all__ = [
    "Query",
    "SQLiteStore",
    "Store",
    "StoredMessage",
    "build_postgres_store",
    "build_store",
    "postgres_store",
    "postgres_url",
    "sqlite_store",
]
