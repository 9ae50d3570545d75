"""The admin's reset empties one named project; emptying every project is a request of its own.

Each test runs a server of its own (a reset of every project must not reach the shared one), on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ON_BOTH_BACKENDS, LiveServer, start_server

pytestmark = ON_BOTH_BACKENDS


@pytest.fixture
def server(tmp_path: Path, server_config: dict[str, Any]) -> Iterator[LiveServer]:
    """A server with two projects, ``shop`` and ``blog``, one memory each."""
    started = start_server(tmp_path, memory_config=server_config)
    for project in ("shop", "blog"):
        with started.client(started.new_key(project)) as api:
            answer = api.post("/v1/memories", json={"messages": f"a {project} note", "user_id": "u", "infer": False})
            assert answer.status_code == 200, answer.text
    yield started
    started.stop()


def memories_of(server: LiveServer, project: str) -> int:
    with server.admin() as admin:
        answer = admin.get("/v1/memories", params={"user_id": "u"}, headers={"X-Engram-Project": project})
    assert answer.status_code == 200, answer.text
    return len(answer.json()["results"])


def both_kept(server: LiveServer) -> bool:
    return memories_of(server, "shop") == memories_of(server, "blog") == 1


@pytest.mark.parametrize("project", ["", " ", "Bad Name", "../etc", "shop\x00"])
def test_a_reset_naming_an_empty_or_malformed_project_is_refused_and_wipes_nothing(
    server: LiveServer, project: str
) -> None:
    with server.admin() as admin:
        answer = admin.post("/v1/reset", json={"project": project})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "validation_error"
    assert both_kept(server)


@pytest.mark.parametrize("path", ["/v1/reset", "/reset"])
def test_an_empty_project_header_is_refused_and_wipes_nothing(server: LiveServer, path: str) -> None:
    with server.admin() as admin:
        answer = admin.post(path, headers={"X-Engram-Project": ""})
    assert answer.status_code == 400, answer.text
    assert both_kept(server)


@pytest.mark.parametrize("body", [None, {}, {"project": None}])
@pytest.mark.parametrize("path", ["/v1/reset", "/reset"])
def test_a_reset_naming_no_project_is_refused_and_wipes_nothing(
    server: LiveServer, path: str, body: dict[str, Any] | None
) -> None:
    with server.admin() as admin:
        answer = admin.post(path, json=body)
    assert answer.status_code == 400, answer.text
    assert "/v1/reset-all-projects" in answer.json()["error"]["message"]
    assert both_kept(server)


def test_a_reset_of_an_unknown_project_is_not_found(server: LiveServer) -> None:
    with server.admin() as admin:
        answer = admin.post("/v1/reset", json={"project": "shopp"})
    assert answer.status_code == 404, answer.text
    assert both_kept(server)


@pytest.mark.parametrize("how", ["body", "header"])
def test_a_reset_empties_only_the_project_it_names(server: LiveServer, how: str) -> None:
    with server.admin() as admin:
        if how == "body":
            answer = admin.post("/v1/reset", json={"project": "blog"})
        else:
            answer = admin.post("/v1/reset", headers={"X-Engram-Project": "blog"})
    assert answer.status_code == 200, answer.text
    assert (memories_of(server, "shop"), memories_of(server, "blog")) == (1, 0)


def test_a_body_and_a_header_naming_different_projects_are_refused(server: LiveServer) -> None:
    with server.admin() as admin:
        answer = admin.post("/v1/reset", json={"project": "blog"}, headers={"X-Engram-Project": "shop"})
    assert answer.status_code == 400, answer.text
    assert both_kept(server)


def test_resetting_every_project_is_a_request_of_its_own(server: LiveServer) -> None:
    with server.admin() as admin:
        answer = admin.post("/v1/reset-all-projects")
    assert answer.status_code == 200, answer.text
    assert (memories_of(server, "shop"), memories_of(server, "blog")) == (0, 0)


def test_resetting_every_project_refuses_a_project_header(server: LiveServer) -> None:
    with server.admin() as admin:
        answer = admin.post("/v1/reset-all-projects", headers={"X-Engram-Project": "shop"})
    assert answer.status_code == 400, answer.text
    assert both_kept(server)


def test_a_project_key_cannot_reset_every_project(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.new_key('shop')}"}) as api:
        answer = api.post("/v1/reset-all-projects")
    assert answer.status_code == 403, answer.text
    assert both_kept(server)
