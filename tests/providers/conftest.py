"""Wire-level fakes: a real HTTP server on 127.0.0.1 that each test scripts.

The SDKs under test speak to it exactly as they would to the provider, so a
test sees the bytes that were sent (model, schema, headers, auth) and controls
the bytes that come back (429 with Retry-After, 500, slow or malformed bodies).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture(scope="session")
def _http_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)  # threaded: a slow reply blocks no one
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def server(_http_server: HTTPServer) -> Iterator[HTTPServer]:
    _http_server.clear()
    yield _http_server
    _http_server.clear()
