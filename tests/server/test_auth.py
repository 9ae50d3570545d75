"""API keys: stored hashed, one project each, managed with the admin key; errors are JSON with codes."""

from __future__ import annotations

import sqlite3

import httpx
import psycopg
import pytest
from psycopg import sql

from engram import MemoryClient
from engram.client import APIError
from engram.server.projects import server_schema

from .conftest import ADMIN_KEY, ON_BOTH_BACKENDS, LiveServer

pytestmark = ON_BOTH_BACKENDS


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer ek_wrong"}, {"Authorization": "Basic abc"}, {"Authorization": "Token"}],
)
def test_a_missing_or_wrong_key_is_401_with_a_json_error(live_server: LiveServer, headers: dict[str, str]) -> None:
    answer = httpx.get(f"{live_server.url}/v1/memories", params={"user_id": "a"}, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_mem0_token_scheme_is_accepted(live_server: LiveServer, project_key: str) -> None:
    answer = httpx.get(
        f"{live_server.url}/v1/memories",
        params={"user_id": "a"},
        headers={"Authorization": f"Token {project_key}"},
    )
    assert answer.status_code == 200


def stored_key_hashes(server: LiveServer) -> list[str]:
    """The api_keys.hash column, read straight from the server's database."""
    vector_store = (server.settings.memory_config or {}).get("vector_store")
    if vector_store is None:
        rows = sqlite3.connect(server.settings.store_path).execute("SELECT hash FROM api_keys").fetchall()
    else:
        table = sql.Identifier(server_schema(vector_store["config"]["schema"]), "api_keys")
        with psycopg.connect(vector_store["config"]["url"]) as conn:
            rows = conn.execute(sql.SQL("SELECT hash FROM {}").format(table)).fetchall()
    return [row[0] for row in rows]


def test_keys_are_stored_hashed(live_server: LiveServer, project_key: str) -> None:
    stored = stored_key_hashes(live_server)
    assert stored and project_key not in str(stored)
    assert all(len(value) == 64 for value in stored)


def test_a_revoked_key_is_401(live_server: LiveServer) -> None:
    with live_server.admin() as admin:
        created = admin.post("/v1/keys", json={"project": "p-revoke", "name": "ci"}).json()
        assert [k["id"] for k in admin.get("/v1/keys", params={"project": "p-revoke"}).json()] == [created["id"]]
        with live_server.client(created["key"]) as client:
            assert client.get("/v1/memories", params={"user_id": "a"}).status_code == 200
            assert admin.delete(f"/v1/keys/{created['id']}").json()["revoked_at"] is not None
            assert client.get("/v1/memories", params={"user_id": "a"}).status_code == 401
        assert admin.delete("/v1/keys/key_unknown").status_code == 404


def test_listed_keys_never_show_secrets(live_server: LiveServer, project_key: str) -> None:
    with live_server.admin() as admin:
        listed = admin.get("/v1/keys").json()
    assert listed and all("key" not in k for k in listed)
    assert project_key not in str(listed)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/keys", {"project": "p-x"}),
        ("GET", "/v1/keys", None),
        ("DELETE", "/v1/keys/k", None),
        ("POST", "/v1/reset", None),
        ("POST", "/reset", None),
        ("POST", "/configure", {}),
    ],
)
def test_a_project_key_cannot_do_admin_work(
    api: httpx.Client, method: str, path: str, body: dict[str, str] | None
) -> None:
    answer = api.request(method, path, json=body)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"


def test_the_admin_key_needs_a_project_header_for_memories(live_server: LiveServer) -> None:
    with live_server.admin() as admin:
        answer = admin.get("/v1/memories", params={"user_id": "a"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "forbidden")


def test_project_names_are_validated(live_server: LiveServer) -> None:
    with live_server.admin() as admin:
        answer = admin.post("/v1/keys", json={"project": "../etc"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "validation_error")


def test_reset_by_the_admin_empties_one_project(live_server: LiveServer) -> None:
    keep, wipe = live_server.new_key("p-keep"), live_server.new_key("p-wipe")
    with MemoryClient(keep, host=live_server.url) as kept, MemoryClient(wipe, host=live_server.url) as wiped:
        kept.add("keep me", user_id="u", infer=False)
        wiped.add("wipe me", user_id="u", infer=False)
        with MemoryClient(ADMIN_KEY, host=live_server.url, project="p-wipe") as admin:
            assert admin.reset() is None
        assert wiped.get_all(user_id="u")["results"] == []
        assert len(kept.get_all(user_id="u")["results"]) == 1
        with pytest.raises(APIError) as refused:
            kept.reset()
        assert refused.value.status_code == 403


def test_a_key_can_ask_what_it_is(live_server: LiveServer, project_key: str) -> None:
    with live_server.client(project_key) as api:
        mine = api.get("/v1/me").json()
    assert mine["admin"] is False and mine["project"].startswith("p-")
    with live_server.admin() as admin:
        assert admin.get("/v1/me").json() == {"admin": True, "project": None}
        assert admin.get("/v1/me", headers={"X-Engram-Project": "shop"}).json() == {"admin": True, "project": "shop"}
    with live_server.client("ek_not-a-real-key") as stranger:
        assert stranger.get("/v1/me").status_code == 401
