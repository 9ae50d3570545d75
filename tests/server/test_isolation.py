"""Every route works only on the key's project: another project's ids answer 404, its scopes look empty.

Both projects use the same user id on purpose: the project, not the user id, keeps them apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from polling import wait_until

from .conftest import ADMIN_KEY, ON_BOTH_BACKENDS, LiveServer

pytestmark = ON_BOTH_BACKENDS  # on Postgres, one schema per project


@dataclass
class TwoProjects:
    owner: httpx.Client
    other: httpx.Client
    memory_id: str
    job_id: str
    owner_project: str


@pytest.fixture
def two(live_server: LiveServer) -> Iterator[TwoProjects]:
    owner_project = "p-owner-" + uuid.uuid4().hex[:8]
    with (
        live_server.client(live_server.new_key(owner_project)) as owner,
        live_server.client(live_server.new_key()) as other,
    ):
        added = owner.post("/v1/memories", json={"messages": "I like green tea", "user_id": "alice", "infer": False})
        job = owner.post(
            "/v1/memories",
            json={"messages": "I like oolong", "user_id": "alice", "infer": False, "async_mode": True},
        )
        assert (added.status_code, job.status_code) == (200, 202)
        yield TwoProjects(owner, other, added.json()["results"][0]["id"], job.json()["id"], owner_project)


BY_ID = [
    ("GET", "/v1/memories/{id}", None),
    ("PUT", "/v1/memories/{id}", {"data": "hijacked"}),
    ("DELETE", "/v1/memories/{id}", None),
    ("GET", "/v1/memories/{id}/history", None),
    ("GET", "/memories/{id}", None),
    ("PUT", "/memories/{id}", {"text": "hijacked"}),
    ("DELETE", "/memories/{id}", None),
    ("GET", "/memories/{id}/history", None),
]


@pytest.mark.parametrize(("method", "path", "body"), BY_ID)
def test_another_projects_memory_id_is_not_found(
    two: TwoProjects, method: str, path: str, body: dict[str, str] | None
) -> None:
    answer = two.other.request(method, path.format(id=two.memory_id), json=body)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert two.owner.get(f"/v1/memories/{two.memory_id}").json()["memory"] == "I like green tea"


def test_another_projects_job_is_not_found(two: TwoProjects) -> None:
    assert two.other.get(f"/v1/jobs/{two.job_id}").status_code == 404
    assert two.owner.get(f"/v1/jobs/{two.job_id}").status_code == 200


READS = [
    ("POST", "/v1/memories/search", {"json": {"query": "green tea", "user_id": "alice"}}),
    ("POST", "/v1/memories/list", {"json": {"user_id": "alice"}}),
    ("GET", "/v1/memories", {"params": {"user_id": "alice"}}),
    ("POST", "/search", {"json": {"query": "green tea", "user_id": "alice"}}),
    ("GET", "/memories", {"params": {"user_id": "alice"}}),
]


@pytest.mark.parametrize(("method", "path", "options"), READS)
def test_the_same_user_id_in_another_project_sees_nothing(
    two: TwoProjects, method: str, path: str, options: dict[str, dict[str, str]]
) -> None:
    answer = two.other.request(method, path, **options)  # type: ignore[arg-type]
    assert answer.status_code == 200
    assert answer.json()["results"] == []
    assert len(two.owner.request(method, path, **options).json()["results"]) >= 1  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/v1/memories", "/memories"])
def test_delete_all_in_another_project_leaves_the_memories(two: TwoProjects, path: str) -> None:
    assert two.other.delete(path, params={"user_id": "alice"}).status_code == 200
    assert two.owner.get(f"/v1/memories/{two.memory_id}").status_code == 200


@pytest.mark.parametrize("path", ["/v1/memories", "/memories"])
def test_adds_are_deduplicated_per_project_only(two: TwoProjects, path: str) -> None:
    body = {"messages": [{"role": "user", "content": "I like green tea"}], "user_id": "alice", "infer": False}
    assert [r["event"] for r in two.other.post(path, json=body).json()["results"]] == ["ADD"]


def test_an_async_add_lands_in_the_submitting_project(two: TwoProjects) -> None:
    job_done = lambda: two.owner.get(f"/v1/jobs/{two.job_id}").json()["status"] == "succeeded"  # noqa: E731
    wait_until(job_done, what="the async add to succeed")
    assert len(two.owner.get("/v1/memories", params={"user_id": "alice"}).json()["results"]) == 2
    assert two.other.get("/v1/memories", params={"user_id": "alice"}).json()["results"] == []


def test_the_admin_key_acts_only_on_the_project_it_names(live_server: LiveServer, two: TwoProjects) -> None:
    project = "p-admin-view"
    live_server.new_key(project)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "X-Engram-Project": project}
    answer = httpx.get(f"{live_server.url}/v1/memories/{two.memory_id}", headers=headers)
    assert answer.status_code == 404


def test_a_project_key_cannot_pick_another_project_by_header(two: TwoProjects) -> None:
    headers = {"X-Engram-Project": two.owner_project}
    assert two.other.get(f"/v1/memories/{two.memory_id}", headers=headers).status_code == 404
    assert two.other.get("/v1/memories", params={"user_id": "alice"}, headers=headers).json()["results"] == []
