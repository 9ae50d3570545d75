"""A real engram server on a loopback port (uvicorn in a thread), and keys for fresh projects.

One server serves the whole session; each test gets its own project (a fresh
store), which is exactly the isolation the server promises.

The server runs on SQLite, or on the session's PostgreSQL (``postgres_url``) with
keys and jobs in ``<namespace>_server`` and each project in its own schema. A test
module runs on both with ``pytestmark = ON_BOTH_BACKENDS``; ``server_config`` is the
Memory config of the backend under test, for tests that start servers of their own.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from psycopg import sql

from engram.embedders.hashing import HashingEmbedder
from engram.llms.base import LLM
from engram.server import ServerSettings, create_app
from polling import wait_until
from provider_env import PROVIDER_VARIABLES

ADMIN_KEY = "test-admin-key"
MEMORY_CONFIG = {"embedder": {"provider": "hashing"}}


@dataclass
class LiveServer:
    url: str
    settings: ServerSettings
    server: uvicorn.Server
    thread: threading.Thread

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)

    def new_key(self, project: str | None = None) -> str:
        project = project or "p-" + uuid.uuid4().hex[:12]
        with self.admin() as admin:
            answer = admin.post("/v1/keys", json={"project": project, "name": "test"})
        assert answer.status_code == 201, answer.text
        key: str = answer.json()["key"]
        return key

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


ON_BOTH_BACKENDS = pytest.mark.parametrize("server_backend", ["sqlite", "postgres"], indirect=True)
POSTGRES_MAX_OPEN_PROJECTS = 16  # each open project holds a pooled connection; the test server allows 200


@contextmanager
def postgres_namespace(url: str) -> Iterator[dict[str, Any]]:
    """A Memory config on ``url`` in a namespace of its own (``<ns>_server``, ``<ns>_<project>_<hash>``),
    whose schemas are dropped afterwards."""
    namespace = "t" + uuid.uuid4().hex[:10]
    yield {**MEMORY_CONFIG, "vector_store": {"provider": "pgvector", "config": {"url": url, "schema": namespace}}}
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (namespace + "\\_%",))
        for (schema,) in rows.fetchall():
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def start_server(
    data_dir: Path, *, llm: LLM | None = None, memory_config: dict[str, Any] | None = None, **settings: Any
) -> LiveServer:
    """Start uvicorn on 127.0.0.1 (a free port) in a thread and wait until it answers."""
    memory_config = memory_config or MEMORY_CONFIG
    if "vector_store" in memory_config:
        settings.setdefault("max_open_projects", POSTGRES_MAX_OPEN_PROJECTS)
    config = ServerSettings(
        data_dir=data_dir, memory_config=memory_config, admin_key=ADMIN_KEY, job_poll_s=0.1, **settings
    )
    app = create_app(config, embedder=HashingEmbedder(), llm=llm)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    def started() -> bool:
        assert thread.is_alive(), "the test server stopped while starting"
        return bool(server.started)

    wait_until(started, what="the test server to start", timeout=15, interval=0.01)
    return LiveServer(f"http://127.0.0.1:{port}", config, server, thread)


@pytest.fixture(scope="session", autouse=True)
def no_llm_from_the_environment() -> Iterator[None]:
    """Servers here have no LLM unless a test gives one: no real provider, no installed offline model."""
    with pytest.MonkeyPatch.context() as patch:
        for name in PROVIDER_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setenv("ENGRAM_LOCAL_MODEL", "off")
        yield


@pytest.fixture(scope="session")
def server_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` unless the module runs ``ON_BOTH_BACKENDS``."""
    return str(getattr(request, "param", "sqlite"))


@contextmanager
def memory_config_for(backend: str, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if backend == "postgres":
        with postgres_namespace(request.getfixturevalue("postgres_url")) as config:
            yield config
    else:
        yield MEMORY_CONFIG


@pytest.fixture
def pg_server_config(postgres_url: str) -> Iterator[dict[str, Any]]:
    """A server config on the test PostgreSQL, in a fresh namespace."""
    with postgres_namespace(postgres_url) as config:
        yield config


@pytest.fixture
def server_config(server_backend: str, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The Memory config of a server of one's own on the backend under test (a fresh namespace on Postgres)."""
    with memory_config_for(server_backend, request) as config:
        yield config


@pytest.fixture(scope="session")
def live_server(
    server_backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LiveServer]:
    with memory_config_for(server_backend, request) as config:
        server = start_server(tmp_path_factory.mktemp("server"), memory_config=config)
        yield server
        server.stop()


@pytest.fixture
def project_key(live_server: LiveServer) -> str:
    """An API key of a brand-new project."""
    return live_server.new_key()


@pytest.fixture
def api(live_server: LiveServer, project_key: str) -> Iterator[httpx.Client]:
    """A raw HTTP client with a fresh project's key."""
    with live_server.client(project_key) as client:
        yield client
