"""Requests generated from /openapi.json by schemathesis: none makes the server fail (5xx).

Bounded: a few examples per operation, against a server of its own (reset is one of the operations).
The admin key with a project header reaches every route, the admin ones included.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from .conftest import ADMIN_KEY, LiveServer, start_server

# A deeper run: ENGRAM_FUZZ_EXAMPLES=200 python -m pytest tests/server/test_schemathesis.py
EXAMPLES_PER_OPERATION = int(os.environ.get("ENGRAM_FUZZ_EXAMPLES", "5"))


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(Path(tmp_path_factory.mktemp("fuzz")))
    server.new_key("fuzz")
    yield server
    server.stop()


def test_no_request_makes_the_server_fail(fuzz_server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "X-Engram-Project": "fuzz"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 26

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: schemathesis.Case[Any]) -> None:
            response = case.call(base_url=fuzz_server.url, headers=headers, timeout=30)
            if response.status_code >= 500 or (response.status_code >= 400 and "error" not in response.json()):
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        fuzz()
    assert failures == []
