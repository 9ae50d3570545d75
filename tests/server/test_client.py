"""MemoryClient's transport rules: retries, timeouts and error classes (against a mock transport)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from engram import AsyncMemoryClient, ConfigError, MemoryClient, NotFoundError, ProviderError, ValidationError
from engram.client import APIConnectionError, APIError
from engram.embedders.hashing import HashingEmbedder
from engram.server import ServerSettings, create_app

Handler = Callable[[httpx.Request], httpx.Response]


def scripted(*answers: httpx.Response | Exception) -> tuple[list[httpx.Request], Handler]:
    """A transport handler that answers (or raises) in order, and the requests it saw."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return seen, handle


def client(handler: Handler, **options: Any) -> MemoryClient:
    return MemoryClient(
        "ek_test",
        host="http://engram.test",
        transport=httpx.MockTransport(handler),
        backoff_s=0.001,
        **options,
    )


def error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": f"{code} happened"}})


OK = httpx.Response(200, json={"results": []})


def test_a_connection_failure_is_retried_even_for_add() -> None:
    seen, handle = scripted(httpx.ConnectError("refused"), httpx.Response(200, json={"results": []}))
    assert client(handle).add("x", user_id="u", infer=False) == {"results": []}
    assert len(seen) == 2


def test_a_503_is_retried_for_search_but_not_for_add() -> None:
    seen, handle = scripted(error(503, "storage_error"), OK)
    assert client(handle).search("x", user_id="u") == {"results": []}
    assert len(seen) == 2
    seen, handle = scripted(error(503, "storage_error"), OK)
    with pytest.raises(Exception, match="storage_error happened"):
        client(handle).add("x", user_id="u", infer=False)
    assert len(seen) == 1


def test_retries_stop_after_max_retries() -> None:
    seen, handle = scripted(*[httpx.ConnectError("refused")] * 3)
    with pytest.raises(APIConnectionError) as raised:
        client(handle, max_retries=2).get_all(user_id="u")
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    assert len(seen) == 3


def test_a_timeout_surfaces_after_retries_for_reads() -> None:
    seen, handle = scripted(httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow"))
    with pytest.raises(APIConnectionError) as raised:
        client(handle, max_retries=1).get_all(user_id="u")
    assert isinstance(raised.value.__cause__, httpx.ReadTimeout)
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (error(400, "validation_error"), ValidationError),
        (error(422, "invalid_request"), ValidationError),
        (error(400, "config_error"), ConfigError),
        (error(404, "not_found"), NotFoundError),
        (error(502, "provider_error"), ProviderError),
        (error(401, "unauthorized"), APIError),
        (httpx.Response(500, text="<html>proxy</html>"), APIError),
    ],
)
def test_server_errors_come_back_as_engram_errors(answer: httpx.Response, expected: type[Exception]) -> None:
    _, handle = scripted(answer)
    with pytest.raises(expected):
        client(handle, max_retries=0).delete("m1")


def test_requests_carry_the_key_and_json_body() -> None:
    seen, handle = scripted(OK)
    client(handle).search("tea", user_id="alice", limit=3)
    request = seen[0]
    assert request.headers["authorization"] == "Bearer ek_test"
    assert request.url == "http://engram.test/v1/memories/search"
    assert request.read() == b'{"query": "tea", "user_id": "alice", "limit": 3}'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object()])
def test_values_json_cannot_hold_are_refused_before_sending(value: object) -> None:
    seen, handle = scripted(OK)
    with pytest.raises(ValidationError, match="cannot send"):
        client(handle).add("x", user_id="u", metadata={"a": value}, infer=False)
    assert seen == []


def test_dates_travel_as_iso_8601() -> None:
    seen, handle = scripted(OK)
    client(handle).add("x", user_id="u", infer=False, timestamp=datetime(2024, 5, 1, tzinfo=UTC))
    assert b'"timestamp": "2024-05-01T00:00:00+00:00"' in seen[0].read()


def test_memory_ids_are_quoted_into_the_path() -> None:
    seen, handle = scripted(httpx.Response(404, json={"error": {"code": "not_found", "message": "x"}}))
    assert client(handle).get("a/b?c") is None
    assert seen[0].url.raw_path == b"/v1/memories/a%2Fb%3Fc"


def test_a_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENGRAM_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ENGRAM_API_KEY"):
        MemoryClient()


def test_the_async_client_follows_the_same_rules() -> None:
    seen, handle = scripted(httpx.ConnectError("refused"), error(404, "not_found"))

    async def run() -> object:
        async with AsyncMemoryClient(
            "ek_test", host="http://engram.test", transport=httpx.MockTransport(handle), backoff_s=0.001
        ) as memory:
            return await memory.history("m1")

    assert asyncio.run(run()) == []
    assert len(seen) == 2


def test_the_async_client_runs_in_process_on_the_asgi_app(tmp_path: Path) -> None:
    """No socket at all: httpx's ASGITransport hands the requests straight to the app."""
    settings = ServerSettings(data_dir=tmp_path, memory_config={"embedder": {"provider": "hashing"}})
    app = create_app(settings, embedder=HashingEmbedder())
    _, secret = app.state.engram.store.create_key("p", "test")

    async def run() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with AsyncMemoryClient(secret, host="http://engram.test", transport=transport) as memory:
            await memory.add("I like tea", user_id="alice", infer=False)
            found = await memory.search("tea", user_id="alice")
            return [item["memory"] for item in found["results"]]

    assert asyncio.run(run()) == ["I like tea"]
