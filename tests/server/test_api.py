"""The HTTP surface: OpenAPI, docs, health, metrics, limits, error shapes and mem0's paths."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from engram import MemoryClient
from engram.llms.scripted import ScriptedLLM

from .conftest import LiveServer, start_server

V1_OPERATIONS = {
    ("post", "/v1/memories"),
    ("get", "/v1/memories"),
    ("delete", "/v1/memories"),
    ("post", "/v1/memories/search"),
    ("post", "/v1/memories/list"),
    ("get", "/v1/memories/{memory_id}"),
    ("put", "/v1/memories/{memory_id}"),
    ("delete", "/v1/memories/{memory_id}"),
    ("get", "/v1/memories/{memory_id}/history"),
    ("get", "/v1/episodes"),
    ("post", "/v1/reset"),
    ("post", "/v1/reset-all-projects"),
    ("get", "/v1/jobs/{job_id}"),
    ("get", "/v1/me"),
    ("post", "/v1/keys"),
    ("get", "/v1/keys"),
    ("delete", "/v1/keys/{key_id}"),
}
MEM0_OPERATIONS = {
    ("post", "/memories"),
    ("get", "/memories"),
    ("get", "/memories/{memory_id}"),
    ("put", "/memories/{memory_id}"),
    ("delete", "/memories/{memory_id}"),
    ("delete", "/memories"),
    ("get", "/memories/{memory_id}/history"),
    ("post", "/search"),
    ("post", "/reset"),
    ("post", "/configure"),
}


def test_openapi_lists_every_route_with_its_schemas(live_server: LiveServer) -> None:
    schema = httpx.get(f"{live_server.url}/openapi.json").json()
    operations = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert V1_OPERATIONS | MEM0_OPERATIONS | {("get", "/healthz"), ("get", "/metrics")} <= operations
    add = schema["paths"]["/v1/memories"]["post"]
    assert {"200", "202", "401", "422"} <= add["responses"].keys()
    assert "bearer" in str(schema["components"]["securitySchemes"]).lower()


def test_docs_page_is_served(live_server: LiveServer) -> None:
    answer = httpx.get(f"{live_server.url}/", follow_redirects=True)
    assert answer.status_code == 200 and "swagger" in answer.text.lower()


def test_healthz_needs_no_key(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.url}/healthz").json()["status"] == "ok"


def test_metrics_count_requests_by_route_template(live_server: LiveServer, api: httpx.Client) -> None:
    api.get("/v1/memories/some-id")
    text = httpx.get(f"{live_server.url}/metrics").text
    assert 'engram_http_requests_total{method="GET",route="/v1/memories/{memory_id}",status="404"}' in text
    assert "engram_http_request_duration_seconds_bucket" in text
    assert "some-id" not in text


def test_a_body_over_the_limit_is_413(api: httpx.Client, live_server: LiveServer) -> None:
    too_big = "x" * (live_server.settings.max_body_bytes + 1)
    answer = api.post("/v1/memories", json={"messages": too_big, "user_id": "a", "infer": False})
    assert (answer.status_code, answer.json()["error"]["code"]) == (413, "payload_too_large")


def test_a_streamed_body_over_the_limit_is_413(api: httpx.Client, live_server: LiveServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"messages": "'
        for _ in range(live_server.settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'", "user_id": "a"}'

    answer = api.post("/v1/memories", content=chunks(), headers={"Content-Type": "application/json"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (413, "payload_too_large")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"user_id": "a"}, 422, "invalid_request"),  # no messages
        ({"messages": "x", "user_id": "a", "infer": "maybe"}, 422, "invalid_request"),
        ({"messages": "x", "user_id": "a", "surprise": 1}, 422, "invalid_request"),
        ({"messages": "x", "infer": False}, 400, "validation_error"),  # no scope
        ({"messages": "x", "user_id": "a"}, 400, "config_error"),  # infer=True, no LLM configured
    ],
)
def test_bad_requests_answer_json_errors_with_stable_codes(
    api: httpx.Client, body: dict[str, object], status: int, code: str
) -> None:
    answer = api.post("/v1/memories", json=body)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]


def test_malformed_json_is_422(api: httpx.Client) -> None:
    answer = api.post("/v1/memories", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        b'{"messages": "x", "user_id": "a", "infer": false, "metadata": {"a": NaN}}',
        b'{"messages": "x", "user_id": "a", "infer": false, "metadata": {"a": -Infinity}}',
        b'{"messages": "x", "user_id": "a", "infer": false, "metadata": {"a": 1e400}}',
    ],
)
def test_numbers_that_are_not_json_are_refused(api: httpx.Client, body: bytes) -> None:
    answer = api.post("/v1/memories", content=body, headers={"Content-Type": "application/json"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_request")
    assert "not a JSON number" in answer.json()["error"]["message"] or "too large" in answer.text


def test_bodies_nested_too_deeply_are_refused(api: httpx.Client) -> None:
    filters: dict[str, object] = {"a": 1}
    for _ in range(400):
        filters = {"AND": [filters]}
    answer = api.post("/v1/memories/list", json={"user_id": "a", "filters": filters})
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "invalid_request")
    assert "nests deeper" in answer.json()["error"]["message"]


def test_unknown_paths_and_methods_answer_json(api: httpx.Client) -> None:
    assert api.get("/v2/nothing").json()["error"]["code"] == "not_found"
    assert api.patch("/v1/memories").json()["error"]["code"] == "method_not_allowed"


def test_delete_all_without_a_scope_is_400(api: httpx.Client) -> None:
    answer = api.delete("/v1/memories")
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "validation_error")


def test_mem0_rest_paths_work_as_in_mem0(api: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "I like tea"}], "user_id": "alice", "infer": False}
    memory_id = api.post("/memories", json=body).json()["results"][0]["id"]
    assert api.post("/search", json={"query": "tea", "user_id": "alice"}).json()["results"][0]["id"] == memory_id
    assert api.put(f"/memories/{memory_id}", json={"text": "I like coffee"}).status_code == 200
    assert api.get(f"/memories/{memory_id}").json()["memory"] == "I like coffee"
    assert [h["event"] for h in api.get(f"/memories/{memory_id}/history").json()] == ["ADD", "UPDATE"]
    assert api.get("/memories", params={"user_id": "alice"}).json()["results"][0]["id"] == memory_id
    assert api.delete(f"/memories/{memory_id}").status_code == 200
    assert api.delete("/memories", params={"user_id": "alice"}).status_code == 200
    assert api.get("/memories", params={"user_id": "alice"}).json()["results"] == []


def test_as_of_dated_updates_and_episodes_over_rest(api: httpx.Client) -> None:
    body = {"messages": "I live in Lisbon", "user_id": "maya", "infer": False, "timestamp": "2024-01-10T09:00:00Z"}
    memory_id = api.post("/v1/memories", json=body).json()["results"][0]["id"]
    update = {"data": "I live in Porto", "timestamp": "2024-03-05T18:00:00Z"}
    assert api.put(f"/v1/memories/{memory_id}", json=update).status_code == 200
    then = api.get("/v1/memories", params={"user_id": "maya", "as_of": "2024-02-01"}).json()["results"]
    assert [(m["memory"], m["invalid_at"]) for m in then] == [("I live in Lisbon", "2024-03-05T18:00:00.000000+00:00")]
    found = api.post("/v1/memories/search", json={"query": "Lisbon", "user_id": "maya", "as_of": "2024-02-01"})
    assert [m["memory"] for m in found.json()["results"]] == ["I live in Lisbon"]
    listed = api.post("/v1/memories/list", json={"user_id": "maya", "as_of": "2024-03-05"}).json()["results"]
    assert [m["memory"] for m in listed] == ["I live in Porto"]
    episodes = api.get(f"/v1/memories/{memory_id}/episodes").json()
    assert [(e["role"], e["content"], e["user_id"]) for e in episodes] == [("user", "I live in Lisbon", "maya")]
    assert api.get("/v1/memories/no-such-id/episodes").status_code == 404
    bad = api.get("/v1/memories", params={"user_id": "maya", "as_of": "yesterday"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "validation_error")


def test_infer_through_the_server_returns_what_memory_returns(tmp_path: Path) -> None:
    """The LLM path: facts extracted on the server, the same result shape (with usage) on the client."""
    server = start_server(tmp_path, llm=ScriptedLLM(['{"facts": [{"text": "Is vegetarian", "sources": [0]}]}']))
    try:
        with MemoryClient(server.new_key("p"), host=server.url) as client:
            result = client.add("I'm vegetarian", user_id="alice")
            assert [(r["event"], r["memory"]) for r in result["results"]] == [("ADD", "Is vegetarian")]
            assert result["usage"]["calls"] == 1
    finally:
        server.stop()


def test_concurrent_identical_adds_store_the_text_once(live_server: LiveServer, project_key: str) -> None:
    def add(_: int) -> str:
        with MemoryClient(project_key, host=live_server.url) as client:
            event: str = client.add("I like tea", user_id="alice", infer=False)["results"][0]["event"]
            return event

    with ThreadPoolExecutor(max_workers=16) as pool:
        events = list(pool.map(add, range(16)))
    assert sorted(events) == ["ADD"] + ["NONE"] * 15
    with MemoryClient(project_key, host=live_server.url) as client:
        assert len(client.get_all(user_id="alice")["results"]) == 1
