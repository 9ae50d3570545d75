"""What only the PostgreSQL store has: migrations, configuration, the HNSW path, error messages."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from psycopg import sql

from engram import Memory
from engram.config import MemoryConfig
from engram.embedders.hashing import HashingEmbedder
from engram.errors import ConfigError, StorageError
from engram.models import MemoryRecord, Scope, memory_hash, utcnow
from engram.storage import build_store
from engram.storage.base import Query
from engram.storage.filters import parse_filters
from engram.storage.postgres import MIGRATIONS, PostgresSettings, PostgresStore


def _config(url: str, schema: str, **more: object) -> MemoryConfig:
    return MemoryConfig.parse(
        {"vector_store": {"provider": "pgvector", "config": {"url": url, "schema": schema, **more}}}
    )


def test_the_schema_is_versioned_and_migrated_once(postgres_url: str, postgres_schema: str) -> None:
    PostgresStore(postgres_url, PostgresSettings(schema=postgres_schema)).close()
    PostgresStore(postgres_url, PostgresSettings(schema=postgres_schema)).close()
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT version, name FROM {}.engram_schema_version").format(sql.Identifier(postgres_schema))
        ).fetchall()
    assert rows == [(n + 1, m.__name__.lstrip("_")) for n, m in enumerate(MIGRATIONS)]


def test_a_schema_from_a_newer_engram_is_refused(postgres_url: str, postgres_schema: str) -> None:
    PostgresStore(postgres_url, PostgresSettings(schema=postgres_schema)).close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute(
            sql.SQL("INSERT INTO {}.engram_schema_version (version, name) VALUES (999, 'future')").format(
                sql.Identifier(postgres_schema)
            )
        )
    with pytest.raises(StorageError, match="newer engram"):
        PostgresStore(postgres_url, PostgresSettings(schema=postgres_schema))


def test_config_selects_the_pgvector_store(postgres_url: str, postgres_schema: str, tmp_path: object) -> None:
    store = build_store(_config(postgres_url, postgres_schema, max_connections=3), default_path=tmp_path)  # type: ignore[arg-type]
    try:
        assert isinstance(store, PostgresStore)
        assert store.settings.max_connections == 3
    finally:
        store.close()


def test_engram_database_url_selects_postgres(
    postgres_url: str, postgres_schema: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("ENGRAM_DATABASE_URL", postgres_url)
    store = build_store(MemoryConfig(), default_path=tmp_path)  # type: ignore[arg-type]
    try:
        assert isinstance(store, PostgresStore)
    finally:
        store.close()


def test_unknown_settings_are_named(postgres_url: str) -> None:
    with pytest.raises(ConfigError, match="unknown settings for the pgvector store: colour"):
        build_store(_config(postgres_url, "x", colour="red"), default_path=None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_connections"):
        build_store(_config(postgres_url, "x", max_connections=0), default_path=None)  # type: ignore[arg-type]


def test_an_unreachable_server_is_a_storage_error_without_the_password() -> None:
    url = "postgresql://engram:s3cret@127.0.0.1:1/engram?connect_timeout=2"
    with pytest.raises(StorageError, match="cannot reach PostgreSQL") as raised:
        PostgresStore(url)
    assert "s3cret" not in str(raised.value)


def test_a_different_embedder_dimension_is_refused(postgres_url: str, postgres_schema: str) -> None:
    Memory(_config(postgres_url, postgres_schema), embedder=HashingEmbedder(32)).close()
    with pytest.raises(StorageError, match="hashing-32"):
        Memory(_config(postgres_url, postgres_schema), embedder=HashingEmbedder(64))


def test_the_hnsw_path_serves_large_scopes(postgres_url: str, postgres_schema: str) -> None:
    # exact_search_max=0: every scope counts as large, so the search walks the HNSW index
    store = PostgresStore(postgres_url, PostgresSettings(schema=postgres_schema, exact_search_max=0))
    try:
        store.bind_embedder("random", 16)
        rng = np.random.default_rng(3)
        vectors = rng.normal(size=(500, 16)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        with store.transaction():
            for i, vector in enumerate(vectors):
                text = f"m{i}"
                record = MemoryRecord(
                    id=text,
                    memory=text,
                    hash=memory_hash(text),
                    created_at=utcnow(),
                    user_id="even" if i % 2 == 0 else "odd",
                    metadata={"i": i},
                )
                store.insert_memory(record, vector, text)
        with psycopg.connect(postgres_url) as conn:  # the planner needs statistics to prefer the index
            conn.execute(sql.SQL("ANALYZE {}.memories").format(sql.Identifier(postgres_schema)))
        hits = store.vector_search(Query(Scope(user_id="even"), parse_filters({"i": {"lt": 100}})), vectors[10], 5)
        assert hits[0][0] == "m10"
        found = store.get_memories([memory_id for memory_id, _ in hits])
        assert all(r.user_id == "even" and r.metadata["i"] < 100 for r in found.values())
        assert len(hits) == 5
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    finally:
        store.close()
