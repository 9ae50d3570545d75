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
