"""Async adds: 202 and a job id at once; jobs live in the database and outlive the server (SQLite and Postgres)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from engram import MemoryClient
from engram.llms.scripted import ScriptedLLM
from engram.server import ServerSettings
from polling import wait_until

from .conftest import ON_BOTH_BACKENDS, LiveServer, start_server

pytestmark = ON_BOTH_BACKENDS


def wait_for(client: httpx.Client, job_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        return job if job["status"] in ("succeeded", "failed") else None

    return wait_until(finished, what=f"job {job_id} to finish")


def test_async_mode_answers_202_and_the_job_holds_the_result(api: httpx.Client) -> None:
    body = {"messages": "I like tea", "user_id": "alice", "infer": False, "async_mode": True}
    accepted = api.post("/v1/memories", json=body)
    assert accepted.status_code == 202
    assert accepted.json()["status"] in ("pending", "running", "succeeded")
    job = wait_for(api, accepted.json()["id"])
    assert job["status"] == "succeeded"
    assert [r["event"] for r in job["result"]["results"]] == ["ADD"]
    assert api.get("/v1/memories", params={"user_id": "alice"}).json()["results"][0]["memory"] == "I like tea"


def test_a_failing_job_records_the_error_code(api: httpx.Client) -> None:
    body = {"messages": "I like tea", "user_id": "alice", "async_mode": True}  # infer=True, no LLM
    job = wait_for(api, api.post("/v1/memories", json=body).json()["id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "config_error"


def test_an_unknown_job_is_404(api: httpx.Client) -> None:
    assert api.get("/v1/jobs/job_nope").status_code == 404


def test_the_client_submits_and_reads_jobs(live_server: LiveServer, project_key: str) -> None:
    with MemoryClient(project_key, host=live_server.url) as client:
        job = client.add_job("I play chess", user_id="alice", infer=False)
        wait_until(lambda: client.get_job(job["id"])["status"] == "succeeded", what="the job to succeed")
        assert client.get_all(user_id="alice")["results"][0]["memory"] == "I play chess"


def test_a_slow_llm_add_does_not_block_other_requests(tmp_path: Path, server_config: dict[str, Any]) -> None:
    llm_called, release = threading.Event(), threading.Event()

    def slow_facts(messages: object) -> str:
        llm_called.set()
        release.wait(30)  # the LLM answers only once the test has been answered meanwhile
        return '{"facts": [{"text": "Likes hiking"}]}'

    # heartbeats keep a job alive far past job_stale_after_s while it runs
    server = start_server(tmp_path, llm=ScriptedLLM([slow_facts]), memory_config=server_config, job_stale_after_s=0.3)
    try:
        with server.client(server.new_key("p")) as client:
            body = {"messages": "I love hiking", "user_id": "alice", "async_mode": True}
            job_id = client.post("/v1/memories", json=body).json()["id"]
            assert llm_called.wait(30)
            assert client.get("/v1/memories", params={"user_id": "alice"}).status_code == 200
            assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
            time.sleep(1.0)  # past job_stale_after_s: only its heartbeats keep the job alive
            release.set()
            job = wait_for(client, job_id)
            assert job["status"] == "succeeded", job
            assert [r["memory"] for r in job["result"]["results"]] == ["Likes hiking"]
    finally:
        release.set()
        server.stop()


def test_a_pending_job_runs_when_the_server_starts_again(tmp_path: Path, server_config: dict[str, Any]) -> None:
    store = ServerSettings(data_dir=tmp_path, memory_config=server_config).open_store()
    _, secret = store.create_key("p", "test")
    job = store.create_job("p", {"messages": "queued before a restart", "user_id": "alice", "infer": False})
    store.close()

    server = start_server(tmp_path, memory_config=server_config)
    try:
        with server.client(secret) as client:
            assert wait_for(client, job.id)["status"] == "succeeded"
            memories = client.get("/v1/memories", params={"user_id": "alice"}).json()["results"]
            assert [m["memory"] for m in memories] == ["queued before a restart"]
    finally:
        server.stop()


def test_a_job_running_when_its_server_died_is_marked_failed(tmp_path: Path, server_config: dict[str, Any]) -> None:
    store = ServerSettings(data_dir=tmp_path, memory_config=server_config).open_store()
    _, secret = store.create_key("p", "test")
    job = store.create_job("p", {"messages": "half done", "user_id": "alice", "infer": False})
    assert store.claim_job("worker_that_died") is not None  # running, and its heartbeats stop now
    store.close()

    server = start_server(tmp_path, memory_config=server_config, job_stale_after_s=0.3)
    try:
        with server.client(secret) as client:
            finished = wait_for(client, job.id)
            assert finished["status"] == "failed"
            assert finished["error"]["code"] == "job_interrupted"
    finally:
        server.stop()
