"""The one error handler: each engram error class has its status and stable code; bugs are a JSON 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from engram.embedders.hashing import HashingEmbedder
from engram.errors import (
    ConfigError,
    EngramError,
    NotFoundError,
    ProviderError,
    StorageError,
    ValidationError,
)
from engram.server import ServerSettings, create_app
from engram.server.errors import Forbidden, PayloadTooLarge, Unauthorized, status_of

from .conftest import LiveServer


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ValidationError("x"), 400, "validation_error"),
        (ConfigError("x"), 400, "config_error"),
        (Unauthorized("x"), 401, "unauthorized"),
        (Forbidden("x"), 403, "forbidden"),
        (NotFoundError("x"), 404, "not_found"),
        (PayloadTooLarge("x"), 413, "payload_too_large"),
        (ProviderError("x", provider="openai"), 502, "provider_error"),
        (StorageError("x"), 503, "storage_error"),
        (EngramError("x"), 500, "internal_error"),
    ],
)
def test_each_error_class_has_a_status_and_code(error: EngramError, status: int, code: str) -> None:
    assert status_of(error) == (status, code)


def test_a_bug_answers_a_json_500_without_its_details(tmp_path: Path) -> None:
    app = create_app(ServerSettings(data_dir=tmp_path), embedder=HashingEmbedder())

    def broken() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/broken", broken)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://engram.test") as client:
            return await client.get("/broken")

    answer = asyncio.run(call())
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    assert "secret internals" not in answer.text


BODY_ROUTES = [
    ("post", "/v1/memories"),
    ("post", "/v1/memories/search"),
    ("post", "/v1/memories/list"),
    ("post", "/v1/memories/browse"),
    ("put", "/v1/memories/some-id"),
    ("post", "/memories"),
    ("post", "/search"),
]
CONTENT_TYPES = [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "application/json",
]
NOT_UTF8 = b'\xff\xfe{"messages": "caf\xe9"}'


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_body_that_is_not_utf8_is_a_client_error_on_every_body_route(
    api: httpx.Client, method: str, path: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    answer = api.request(method, path, content=NOT_UTF8, headers=headers)
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("path", ["/v1/reset", "/v1/keys", "/reset"])
def test_a_body_that_is_not_utf8_is_a_client_error_on_the_admin_routes(
    live_server: LiveServer, path: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    with live_server.admin() as admin:
        answer = admin.post(path, content=NOT_UTF8, headers=headers)
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
