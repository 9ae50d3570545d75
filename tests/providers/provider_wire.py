"""Helpers for the wire-level provider tests."""

from __future__ import annotations

import json
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request

# What every provider test passes: tiny backoffs keep the retry tests fast.
FAST = {"max_retries": 2, "initial_backoff": 0.01, "max_backoff": 0.02, "timeout": 5.0}


def sent_json(server: HTTPServer, index: int = -1) -> Any:
    """The JSON body of a request the server received."""
    request: Request = server.log[index][0]
    return json.loads(request.get_data())


def sent_headers(server: HTTPServer, index: int = -1) -> dict[str, str]:
    request: Request = server.log[index][0]
    return {key.lower(): value for key, value in request.headers.items()}
