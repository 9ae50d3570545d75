"""A real engram server on a loopback port (uvicorn in a thread), and keys for fresh projects.

One server serves the whole session; each test gets its own project (a fresh
store), which is exactly the isolation the server promises.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from engram.embedders.hashing import HashingEmbedder
from engram.llms.base import LLM
from engram.server import ServerSettings, create_app

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


def start_server(data_dir: Path, *, llm: LLM | None = None, **settings: Any) -> LiveServer:
    """Start uvicorn on 127.0.0.1 (a free port) in a thread and wait until it answers."""
    config = ServerSettings(
        data_dir=data_dir, memory_config=MEMORY_CONFIG, admin_key=ADMIN_KEY, job_poll_s=0.1, **settings
    )
    app = create_app(config, embedder=HashingEmbedder(), llm=llm)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    return LiveServer(f"http://127.0.0.1:{port}", config, server, thread)


LLM_VARIABLES = (
    *("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"),
    *("OLLAMA_HOST", "ENGRAM_LLM_PROVIDER", "ENGRAM_LLM_MODEL", "AZURE_OPENAI_API_KEY", "GROQ_API_KEY"),
)


@pytest.fixture(scope="session", autouse=True)
def no_llm_from_the_environment() -> Iterator[None]:
    """Servers here have no LLM unless a test gives one: no real provider, no installed offline model."""
    with pytest.MonkeyPatch.context() as patch:
        for name in LLM_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setenv("ENGRAM_LOCAL_MODEL", "off")
        yield


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("server"))
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
