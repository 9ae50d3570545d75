"""The server and the client under hostile or failing conditions, against a real uvicorn server.

Each test is named after what it protects; the module runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram import MemoryClient, ValidationError
from engram.cli import main
from engram.client import APIConnectionError
from engram.embedders.hashing import HashingEmbedder
from engram.llms.base import ChatMessage
from engram.llms.scripted import ScriptedLLM
from engram.server import ServerSettings, create_app
from engram.server.serving import KEEP_ALIVE_TIMEOUT_S, HeaderTimeoutH11Protocol, uvicorn_limits
from polling import wait_until
from test_hypothesis_campaign import DATE, EXAMPLES, FILTERS, JSONISH

from .conftest import MEMORY_CONFIG, ON_BOTH_BACKENDS, LiveServer, start_server


def _a_bug(messages: list[ChatMessage]) -> str:
    raise RuntimeError("a bug in the LLM adapter")


@pytest.fixture
def buggy_server(tmp_path: Path, server_config: dict[str, Any]) -> Any:
    """A server whose LLM raises an unexpected exception: every ``infer=True`` add is a 500."""
    server = start_server(tmp_path, llm=ScriptedLLM([_a_bug] * 100), memory_config=server_config)
    yield server
    server.stop()


# -- item 1: no write lost after a server error ---------------------------------------------------


@ON_BOTH_BACKENDS
def test_a_write_right_after_a_server_bug_is_stored(buggy_server: LiveServer) -> None:
    with MemoryClient(buggy_server.new_key(), host=buggy_server.url, max_retries=0) as client:
        for i in range(20):
            with pytest.raises(Exception, match="internal_error"):
                client.add("trigger the bug", user_id="u", infer=True)
            client.add(f"fact number {i}", user_id="u", infer=False)
        assert len(client.get_all(user_id="u")["results"]) == 20


@ON_BOTH_BACKENDS
def test_a_bug_is_answered_500_on_a_connection_that_stays_open(buggy_server: LiveServer) -> None:
    with buggy_server.client(buggy_server.new_key()) as api:
        answer = api.post("/v1/memories", json={"messages": "x", "user_id": "u", "infer": True})
        assert answer.status_code == 500
        assert answer.json()["error"]["code"] == "internal_error"
        assert answer.headers.get("connection", "").lower() != "close"
        again = api.post("/v1/memories", json={"messages": "y", "user_id": "u", "infer": False})
        assert again.status_code == 200


def test_a_server_that_is_gone_is_an_api_connection_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = MemoryClient("ek_x", host=f"http://127.0.0.1:{port}", max_retries=1, backoff_s=0.001)
    with client, pytest.raises(APIConnectionError) as raised:
        client.add("x", user_id="u", infer=False)
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


def _scripted_transport(*outcomes: httpx.Response | Exception) -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []
    queue = list(outcomes)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return seen, httpx.MockTransport(handle)


def _added() -> httpx.Response:
    return httpx.Response(200, json={"results": [{"id": "1", "memory": "x", "event": "ADD"}]})


@pytest.mark.parametrize("never_sent", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow")])
def test_an_add_that_never_reached_the_server_is_retried(never_sent: Exception) -> None:
    seen, transport = _scripted_transport(never_sent, _added())
    with MemoryClient("ek_x", host="http://engram.test", transport=transport, backoff_s=0.001) as client:
        assert client.add("x", user_id="u", infer=False)["results"][0]["event"] == "ADD"
    assert len(seen) == 2


@pytest.mark.parametrize("maybe_sent", [httpx.ReadError("reset"), httpx.RemoteProtocolError("gone")])
def test_an_add_that_may_have_reached_the_server_is_not_sent_twice(maybe_sent: Exception) -> None:
    seen, transport = _scripted_transport(maybe_sent, _added())
    client = MemoryClient("ek_x", host="http://engram.test", transport=transport, backoff_s=0.001)
    with client, pytest.raises(APIConnectionError):
        client.add("x", user_id="u", infer=False)
    assert len(seen) == 1


def test_a_read_that_lost_its_connection_is_retried() -> None:
    seen, transport = _scripted_transport(httpx.ReadError("reset"), httpx.Response(200, json={"results": []}))
    with MemoryClient("ek_x", host="http://engram.test", transport=transport, backoff_s=0.001) as client:
        assert client.get_all(user_id="u") == {"results": []}
    assert len(seen) == 2


# -- item 2 and 9 over HTTP: hostile strings are 400s -----------------------------------------------


HOSTILE_BODIES: list[tuple[str, str, dict[str, Any]]] = [
    ("post", "/v1/memories", {"messages": "\ud800", "user_id": "u", "infer": False}),
    ("post", "/v1/memories", {"messages": "x", "user_id": "u", "infer": False, "metadata": {"k": "a\x00b"}}),
    ("post", "/v1/memories/search", {"query": "q", "user_id": "u", "filters": {"k": "\udfff"}}),
    ("post", "/v1/memories/list", {"user_id": "u\x00", "limit": 5}),
]


@ON_BOTH_BACKENDS
@pytest.mark.parametrize(("method", "path", "body"), HOSTILE_BODIES)
def test_hostile_strings_over_http_are_validation_errors(
    api: httpx.Client, method: str, path: str, body: dict[str, Any]
) -> None:
    content = json.dumps(body, default=str)  # dates travel as text, as clients send them
    answer = api.request(method, path, content=content, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "validation_error"


@ON_BOTH_BACKENDS
def test_a_lone_surrogate_in_a_memory_id_is_a_client_error(api: httpx.Client) -> None:
    answer = api.get("/v1/memories/%ED%A0%80")
    assert answer.status_code in (400, 404), answer.text


@ON_BOTH_BACKENDS
def test_a_client_call_with_a_lone_surrogate_is_a_validation_error(live_server: LiveServer) -> None:
    client = MemoryClient(live_server.new_key(), host=live_server.url)
    with client, pytest.raises(ValidationError, match="lone surrogate"):
        client.add("\ud800", user_id="u", infer=False)


# -- item 8: the metrics stay bounded whatever methods clients send ------------------------------


@ON_BOTH_BACKENDS
def test_metrics_stay_bounded_under_random_http_methods(live_server: LiveServer) -> None:
    def series() -> int:
        return len(httpx.get(f"{live_server.url}/metrics").text.splitlines())

    def random_requests(count: int) -> None:
        with httpx.Client(base_url=live_server.url) as raw:
            for _ in range(count):
                method = "".join(random.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=8))
                raw.request(method, f"/v1/memories/{random.random()}")

    random_requests(50)
    series()  # the metrics request itself is counted from its first time on
    before = series()
    random_requests(300)
    assert series() == before  # 300 new methods and paths, no new series
    text = httpx.get(f"{live_server.url}/metrics").text
    assert 'method="OTHER"' in text


# -- item 10: a project name is checked whole --------------------------------------------------------


@ON_BOTH_BACKENDS
@pytest.mark.parametrize("name", ["evil\n", "ok\nevil", "a" * 65, "../x", "\ud800"])
def test_project_names_are_checked_whole(live_server: LiveServer, name: str) -> None:
    with live_server.admin() as admin:
        answer = admin.post(
            "/v1/keys",
            content=json.dumps({"project": name, "name": "k"}),
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code in (400, 422), answer.text
    projects_dir = live_server.settings.data_dir / "projects"
    made = [p.name for p in projects_dir.iterdir()] if projects_dir.exists() else []
    assert not any("\n" in name for name in made)


# -- item 12: slow or idle clients cannot hold connections open -------------------------------------


@pytest.fixture
def limited_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    """uvicorn with the limits of `engram serve`, with a short header timeout for the test."""
    monkeypatch.setattr(HeaderTimeoutH11Protocol, "header_timeout_s", 1.5)
    settings = ServerSettings(data_dir=tmp_path, memory_config=MEMORY_CONFIG, admin_key="admin")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, embedder=HashingEmbedder()), log_level="warning", **uvicorn_limits(max_connections=50)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="the limited server to start")
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(10)


def _closed_by_server(connection: socket.socket) -> bool:
    """Whether the server closes the connection (waiting up to 10 s, far beyond the test's timeout)."""
    connection.settimeout(10)
    try:
        while connection.recv(1024):  # the rest of an earlier response may still be on its way
            pass
    except TimeoutError:
        return False
    return True


def test_a_client_that_never_finishes_its_headers_is_disconnected(limited_server: tuple[str, int]) -> None:
    with socket.create_connection(limited_server) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # ... and never the blank line
        assert _closed_by_server(slow)


def test_an_idle_connection_after_a_response_is_disconnected(limited_server: tuple[str, int]) -> None:
    with socket.create_connection(limited_server) as idle:
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        idle.settimeout(10)
        assert b"200 OK" in idle.recv(4096)
        idle.sendall(b"GET /healthz HTTP/1.1\r\n")  # a second request that stalls
        assert _closed_by_server(idle)


def test_a_client_that_sends_its_headers_in_time_is_answered(limited_server: tuple[str, int]) -> None:
    answer = httpx.get(f"http://{limited_server[0]}:{limited_server[1]}/healthz")
    assert answer.status_code == 200


def test_engram_serve_runs_uvicorn_with_the_limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    main(["serve", "--data-dir", str(tmp_path), "--admin-key", "admin", "--max-connections", "77"])
    assert seen["http"] is HeaderTimeoutH11Protocol
    assert seen["limit_concurrency"] == 77
    assert seen["timeout_keep_alive"] == KEEP_ALIVE_TIMEOUT_S


@ON_BOTH_BACKENDS
@pytest.mark.parametrize("name", ["\ud800", "key \udfff"])
def test_a_key_name_with_a_lone_surrogate_is_a_client_error(live_server: LiveServer, name: str) -> None:
    with live_server.admin() as admin:
        answer = admin.post(
            "/v1/keys",
            content=json.dumps({"project": "fine", "name": name}),
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["error"]["code"] in ("validation_error", "invalid_request")


@ON_BOTH_BACKENDS
def test_a_schema_error_echoing_a_lone_surrogate_is_answered_422(api: httpx.Client) -> None:
    body = json.dumps({"messages": "x", "user_id": "u", "infer": "\ud800"})  # infer must be a boolean
    answer = api.post("/v1/memories", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"


# -- the campaign over HTTP: hostile JSON anywhere in a request is a 4xx, never a 5xx ---------------

HOSTILE_ROUTES = [
    ("post", "/v1/memories", ["messages", "user_id", "agent_id", "metadata", "infer", "timestamp", "expiration_date"]),
    ("post", "/v1/memories/search", ["query", "user_id", "filters", "limit", "threshold"]),
    ("post", "/v1/memories/list", ["user_id", "run_id", "filters", "limit", "top_k"]),
    ("put", "/v1/memories/some-id", ["data", "text", "metadata"]),
]


@pytest.mark.parametrize(("method", "path", "fields"), HOSTILE_ROUTES)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_hostile_json_over_http_is_never_a_server_error(
    api: httpx.Client, method: str, path: str, fields: list[str], data: st.DataObject
) -> None:
    body = {"user_id": "u", "messages": "x", "query": "q"}
    body.update(data.draw(st.dictionaries(st.sampled_from(fields), JSONISH | DATE | FILTERS, max_size=3)))
    content = json.dumps(body, default=str)  # dates travel as text, as clients send them
    answer = api.request(method, path, content=content, headers={"Content-Type": "application/json"})
    assert answer.status_code < 500, answer.text
