"""The routes the dashboard reads through, as any client may: GET /v1/scopes and POST /v1/memories/browse."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from engram import AsyncMemoryClient, MemoryClient, ValidationError

from .conftest import ON_BOTH_BACKENDS, LiveServer

pytestmark = ON_BOTH_BACKENDS


def _fill(api: httpx.Client) -> None:
    for i in range(7):
        body = {"messages": f"fact {i}", "user_id": "alice", "infer": False, "metadata": {"n": i}}
        assert api.post("/v1/memories", json={**body, "timestamp": f"2025-01-0{i + 1}T00:00:00Z"}).status_code == 200
    assert api.post("/v1/memories", json={"messages": "x", "agent_id": "bot", "infer": False}).status_code == 200


def test_scopes_count_the_projects_memories(api: httpx.Client) -> None:
    _fill(api)
    answer = api.get("/v1/scopes")
    assert answer.status_code == 200
    assert answer.json() == {
        "results": [{"kind": "agent_id", "id": "bot", "count": 1}, {"kind": "user_id", "id": "alice", "count": 7}]
    }


def test_browse_pages_sorts_and_filters(api: httpx.Client) -> None:
    _fill(api)
    body = {"user_id": "alice", "limit": 3, "offset": 3, "sort": "created_at", "order": "asc"}
    page = api.post("/v1/memories/browse", json=body).json()
    assert [m["memory"] for m in page["results"]] == ["fact 3", "fact 4", "fact 5"]
    assert (page["total"], page["offset"], page["limit"]) == (7, 3, 3)
    filtered = api.post("/v1/memories/browse", json={"user_id": "alice", "filters": {"n": {"in": [1, 6]}}}).json()
    assert [m["memory"] for m in filtered["results"]] == ["fact 6", "fact 1"] and filtered["total"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "alice", "sort": "score"},
        {"user_id": "alice", "order": "sideways"},
        {"user_id": "alice", "limit": 5000},
        {"user_id": "alice", "offset": -1},
        {"user_id": "alice", "page": 2},
    ],
)
def test_browse_refuses_what_it_cannot_do(api: httpx.Client, body: dict[str, object]) -> None:
    answer = api.post("/v1/memories/browse", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


def test_browse_needs_a_scope(api: httpx.Client) -> None:
    answer = api.post("/v1/memories/browse", json={})
    assert answer.status_code == 400 and "scope is required" in answer.json()["error"]["message"]


def test_scopes_and_browse_never_cross_projects(live_server: LiveServer, api: httpx.Client) -> None:
    _fill(api)
    with live_server.client(live_server.new_key()) as other:
        assert other.get("/v1/scopes").json() == {"results": []}
        assert other.post("/v1/memories/browse", json={"user_id": "alice"}).json()["total"] == 0


def test_the_admin_key_browses_only_a_named_project(live_server: LiveServer) -> None:
    project = "browse-admin"
    with live_server.client(live_server.new_key(project)) as api:
        _fill(api)
    with live_server.admin() as admin:
        assert admin.get("/v1/scopes").status_code == 403
        named = admin.get("/v1/scopes", headers={"X-Engram-Project": project})
        assert {s["id"] for s in named.json()["results"]} == {"alice", "bot"}


def test_the_clients_browse_like_memory(live_server: LiveServer, project_key: str, api: httpx.Client) -> None:
    _fill(api)
    with MemoryClient(project_key, live_server.url) as client:
        assert client.scopes()["results"][1] == {"kind": "user_id", "id": "alice", "count": 7}
        page = client.browse(user_id="alice", limit=2, sort="memory", order="desc")
        assert [m["memory"] for m in page["results"]] == ["fact 6", "fact 5"] and page["total"] == 7
        with pytest.raises(ValidationError):
            client.browse()


def test_the_async_client_browses(live_server: LiveServer, project_key: str, api: httpx.Client) -> None:
    _fill(api)

    async def browse() -> dict[str, Any]:
        async with AsyncMemoryClient(project_key, live_server.url) as client:
            page: dict[str, Any] = await client.browse(agent_id="bot")
            return page

    assert [m["memory"] for m in asyncio.run(browse())["results"]] == ["x"]
