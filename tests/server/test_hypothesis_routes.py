"""The campaign over REST: every route of the server, with hostile bodies, headers, content types and
bytes, answers 4xx or 2xx and never a 5xx. The app runs in-process (httpx's ``ASGITransport``, with its
lifespan, so ``async_mode`` jobs and their workers run too), on SQLite and on PostgreSQL.

The LLM answers what each example draws (``hostile_answers.MEMORY_ANSWERS``), so ``infer`` adds
meet hostile answers as well. ``ENGRAM_HYPOTHESIS_EXAMPLES`` sets the examples per property.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from engram.embedders.hashing import HashingEmbedder
from engram.llms.base import ChatMessage, Completion, Usage
from engram.server import ServerSettings, create_app
from hostile_answers import ANY_JSON, MEMORY_ANSWERS
from test_hypothesis_campaign import CAMPAIGN, DATE, FILTERS, JSONISH, TEXT

from .conftest import ADMIN_KEY, ON_BOTH_BACKENDS, POSTGRES_MAX_OPEN_PROJECTS

pytestmark = ON_BOTH_BACKENDS

NO_FACTS = '{"facts": [], "forget": []}'
SCOPE_FIELDS = ["user_id", "agent_id", "run_id", "actor_id"]
ADD_FIELDS = ["messages", "metadata", "infer", "memory_type", "prompt", "timestamp", "expiration_date", "async_mode"]
SEARCH_FIELDS = ["query", "limit", "top_k", "filters", "threshold", "rerank", "as_of", "explain", "episodes"]
FIELDS = {
    "add": [*SCOPE_FIELDS, *ADD_FIELDS],
    "search": [*SCOPE_FIELDS, *SEARCH_FIELDS],
    "list": [*SCOPE_FIELDS, "filters", "limit", "top_k", "as_of"],
    "browse": [*SCOPE_FIELDS, "filters", "limit", "offset", "sort", "order", "as_of"],
    "update": ["data", "text", "metadata", "timestamp"],
    "reset": ["project"],
    "erase": ["user_id", "agent_id", "run_id"],
    "key": ["project", "name"],
    "none": ["project", "config", "x"],
}
QUERY_FIELDS = [*SCOPE_FIELDS, "limit", "as_of", "project"]
# (method, path with {id} for a memory id or another id, which body fields it reads)
ROUTES = [
    ("POST", "/v1/memories", "add"),
    ("POST", "/memories", "add"),
    ("POST", "/v1/memories/search", "search"),
    ("POST", "/search", "search"),
    ("POST", "/v1/memories/list", "list"),
    ("POST", "/v1/memories/browse", "browse"),
    ("GET", "/v1/memories", "none"),
    ("GET", "/memories", "none"),
    ("DELETE", "/v1/memories", "none"),
    ("DELETE", "/memories", "none"),
    ("GET", "/v1/memories/{id}", "none"),
    ("PUT", "/v1/memories/{id}", "update"),
    ("PUT", "/memories/{id}", "update"),
    ("DELETE", "/v1/memories/{id}", "none"),
    ("GET", "/v1/memories/{id}/history", "none"),
    ("GET", "/memories/{id}/history", "none"),
    ("GET", "/v1/memories/{id}/episodes", "none"),
    ("GET", "/v1/jobs/{id}", "none"),
    ("GET", "/v1/me", "none"),
    ("GET", "/v1/scopes", "none"),
    ("POST", "/v1/erase", "erase"),
    ("GET", "/v1/erasures", "none"),
    ("POST", "/v1/reset", "reset"),
    ("POST", "/reset", "reset"),
    ("POST", "/v1/reset-all-projects", "none"),
    ("POST", "/v1/keys", "key"),
    ("GET", "/v1/keys", "none"),
    ("DELETE", "/v1/keys/{id}", "none"),
    ("POST", "/configure", "none"),
    ("GET", "/healthz", "none"),
    ("GET", "/metrics", "none"),
    ("GET", "/ui/{id}", "none"),
    ("PATCH", "/v1/memories/{id}", "update"),
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "",
    "application/json; charset=\x7f",
]


class DrawnLLM:
    """Answers what the running example drew, then no facts; shared with the app's job workers."""

    model_name = "drawn"

    def __init__(self) -> None:
        self.answers: list[str] = []
        self._lock = threading.Lock()

    def complete(self, messages: list[ChatMessage], *, json_schema: dict[str, Any] | None = None) -> Completion:
        with self._lock:
            text = self.answers.pop(0) if self.answers else NO_FACTS
        return Completion(text, Usage(1, 1, 1), self.model_name)


@dataclass
class InProcessServer:
    """The app on an event loop of its own, with a project key, the admin key and one stored memory."""

    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    llm: DrawnLLM
    project_key: str
    memory_id: str

    def send(self, method: str, path: str, **options: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, path, **options))

    def seeded(self) -> str:
        """The id of a memory of the project (added again when a reset removed it)."""
        if self.send("GET", f"/v1/memories/{self.memory_id}", headers=self.auth()).status_code == 404:
            answer = self.send(
                "POST",
                "/v1/memories",
                json={"messages": "I like tea", "user_id": "u", "infer": False},
                headers=self.auth(),
            )
            self.memory_id = answer.json()["results"][0]["id"]
        return self.memory_id

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.project_key}"}


@pytest.fixture
def server(tmp_path: Path, server_config: dict[str, Any]) -> Iterator[InProcessServer]:
    extra = {"max_open_projects": POSTGRES_MAX_OPEN_PROJECTS} if "vector_store" in server_config else {}
    settings = ServerSettings(
        data_dir=tmp_path, memory_config=server_config, admin_key=ADMIN_KEY, job_poll_s=0.1, **extra
    )
    llm = DrawnLLM()
    app = create_app(settings, embedder=HashingEmbedder(), llm=llm)
    _, secret = app.state.engram.store.create_key("p", "campaign")
    loop = asyncio.new_event_loop()
    lifespan = app.router.lifespan_context(app)
    loop.run_until_complete(lifespan.__aenter__())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://engram.test", timeout=60)
    running = InProcessServer(loop, client, llm, secret, "unknown")
    running.seeded()
    try:
        yield running
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(lifespan.__aexit__(None, None, None))
        loop.close()


VALUE = st.one_of(JSONISH, st.builds(str, DATE), FILTERS, ANY_JSON)
_SCOPE = st.sampled_from(["u", "v", " u", ""]) | TEXT
_COUNT = st.integers(-1, 12) | st.integers() | st.sampled_from([10_000, 10_001, 2**63, 2**64, 1.5])
_TIME = st.builds(str, DATE) | st.floats() | st.integers()
_TYPED: dict[str, st.SearchStrategy[Any]] = {
    **dict.fromkeys(SCOPE_FIELDS, _SCOPE),
    "messages": TEXT
    | st.lists(
        st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]) | TEXT, "content": TEXT | JSONISH}),
        max_size=3,
    ),
    "metadata": st.dictionaries(TEXT, JSONISH, max_size=3),
    **dict.fromkeys(["infer", "async_mode", "explain", "rerank"], st.booleans()),
    **dict.fromkeys(["timestamp", "expiration_date", "as_of"], _TIME),
    **dict.fromkeys(["limit", "top_k", "offset", "episodes"], _COUNT),
    "filters": FILTERS,
    "threshold": st.floats() | st.integers(),
    **dict.fromkeys(["query", "data", "text", "prompt", "x", "config"], TEXT),
    "sort": st.sampled_from(["created_at", "updated_at", "memory"]) | TEXT,
    "order": st.sampled_from(["asc", "desc"]) | TEXT,
    "memory_type": st.sampled_from(["procedural_memory"]) | TEXT,
    **dict.fromkeys(["project", "name"], st.sampled_from(["p", "q", "", "P"]) | TEXT),
}


def _field_values(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Values of the right type for each field most of the time, any hostile value otherwise."""
    return st.fixed_dictionaries(
        {}, optional={name: st.one_of(_TYPED[name], _TYPED[name], _TYPED[name], VALUE) for name in fields}
    )


HEADER_TEXT = st.one_of(
    st.sampled_from(["p", "", " ", "P", "p\t", "a" * 65, "../p", "p,q", "keep", "nope", "é"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20),
)
AUTH = st.sampled_from(["project", "admin", "admin+project", "none", "token", "garbage", "basic"])
BODY_KINDS = st.sampled_from(["json"] * 6 + ["any json", "bytes", "surrogates", "empty", "nan"])


def _headers(server: InProcessServer, auth: str, project: str, content_type: str) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if auth in ("project", "token"):
        scheme = "Bearer" if auth == "project" else "Token"
        headers["Authorization"] = f"{scheme} {server.project_key}"
    elif auth.startswith("admin"):
        headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        if auth == "admin+project":
            headers["X-Engram-Project"] = project.encode("latin-1")
    elif auth == "garbage":
        headers["Authorization"] = "Bearer \x7f\xff".encode("latin-1")
    elif auth == "basic":
        headers["Authorization"] = "Basic dTpw"
    if content_type:
        headers["Content-Type"] = content_type.encode("latin-1")
    return headers


def _body(kind: str, fields: dict[str, Any], anything: Any, raw: bytes) -> bytes:
    """The request body: fields over a body that reaches the verb, as JSON, or any bytes at all."""
    base: dict[str, Any] = {"messages": "I like tea", "user_id": "u", "query": "tea", "infer": False}
    if kind == "json":
        return json.dumps({**base, **fields}, default=str, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if kind == "any json":
        return json.dumps(anything, default=str).encode()
    if kind == "surrogates":
        return json.dumps({**base, "messages": "\ud800 tea", **fields}, ensure_ascii=False, default=str).encode(
            "utf-8", "surrogatepass"
        )
    if kind == "nan":
        return json.dumps({**base, **fields, "metadata": {"k": float("nan")}, "limit": 1e400}, default=str).encode()
    return b"" if kind == "empty" else raw


ADMIN_PATHS = ("/v1/reset", "/reset", "/v1/reset-all-projects", "/v1/keys", "/v1/keys/{id}", "/configure")
PATH_IDS = st.one_of(st.just("<memory>"), TEXT, st.sampled_from(["", "..", "%00", "%ED%A0%80", "a/b", "x" * 3000, "p"]))


def _send_drawn(
    server: InProcessServer, route: tuple[str, str, str], path_id: str, headers: dict[str, Any], data: st.DataObject
) -> httpx.Response:
    """One request on ``route``: drawn body fields, query, LLM answers and body kind."""
    method, template, body_kind = route
    memory_id = server.seeded() if path_id == "<memory>" else path_id
    path = template.replace("{id}", quote(memory_id.encode("utf-8", "surrogatepass"), safe="%"))
    fields = data.draw(_field_values(FIELDS[body_kind]), label="fields")
    query = data.draw(st.dictionaries(st.sampled_from(QUERY_FIELDS), st.builds(str, VALUE), max_size=3), "query")
    server.llm.answers[:] = data.draw(st.lists(MEMORY_ANSWERS, max_size=2), label="answers")
    kind = data.draw(BODY_KINDS, label="body kind")
    body = _body(kind, fields, data.draw(ANY_JSON, label="any json"), data.draw(st.binary(max_size=60), "bytes"))
    params = {key: value.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for key, value in query.items()}
    answer = server.send(method, path, params=params, content=body, headers=headers)
    event(f"answered {answer.status_code}")
    return answer


@CAMPAIGN
@given(route=st.sampled_from(ROUTES), path_id=PATH_IDS, project_header=st.booleans(), data=st.data())
def test_hostile_json_on_every_route_is_never_a_server_error(
    server: InProcessServer, route: tuple[str, str, str], path_id: str, project_header: bool, data: st.DataObject
) -> None:
    """The caller's own key (the admin key on admin routes), JSON bodies of drawn values."""
    admin = route[1] in ADMIN_PATHS
    headers: dict[str, Any] = {**server.auth(ADMIN_KEY if admin else None), "Content-Type": "application/json"}
    if admin and project_header:
        headers["X-Engram-Project"] = "p"
    answer = _send_drawn(server, route, path_id, headers, data)
    assert answer.status_code < 500, answer.text


@CAMPAIGN
@given(
    route=st.sampled_from(ROUTES),
    path_id=PATH_IDS,
    auth=AUTH,
    project=HEADER_TEXT,
    content_type=st.sampled_from(CONTENT_TYPES),
    data=st.data(),
)
def test_hostile_headers_content_types_and_bytes_are_never_a_server_error(
    server: InProcessServer,
    route: tuple[str, str, str],
    path_id: str,
    auth: str,
    project: str,
    content_type: str,
    data: st.DataObject,
) -> None:
    answer = _send_drawn(server, route, path_id, _headers(server, auth, project, content_type), data)
    assert answer.status_code < 500, answer.text


@CAMPAIGN
@given(
    body=st.one_of(st.fixed_dictionaries({}, optional={"project": HEADER_TEXT | ANY_JSON}), ANY_JSON, st.just(None)),
    project=st.none() | HEADER_TEXT,
    path=st.sampled_from(["/v1/reset", "/reset"]),
)
def test_a_reset_wipes_only_the_project_it_names(
    server: InProcessServer, body: Any, project: str | None, path: str
) -> None:
    server.seeded()
    headers: dict[str, Any] = {"Authorization": f"Bearer {ADMIN_KEY}"}
    if project is not None:
        headers["X-Engram-Project"] = project.encode("latin-1")
    content = None if body is None else json.dumps(body, default=str).encode()
    answer = server.send("POST", path, content=content, headers={**headers, "Content-Type": "application/json"})
    assert answer.status_code < 500, answer.text
    named = body.get("project") if isinstance(body, dict) else None
    named = named if named is not None else project
    still_there = server.send("GET", f"/v1/memories/{server.memory_id}", headers=server.auth())
    if answer.status_code == 200:
        assert named == "p", f"reset with body {body!r} and header {project!r} wiped project p"
    else:
        assert still_there.status_code == 200, "a refused reset wiped the project"
