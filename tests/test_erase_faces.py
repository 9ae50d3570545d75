"""``erase`` on every face: Memory, AsyncMemory, both clients through the server (which also erases the
scope's add jobs), and ``engram erase``. It returns a receipt that outlives the data, and ``erasures``
lists receipts. (The MCP tool is in tests/server/test_mcp.py; what erasure leaves on disk, per store,
in tests/test_erasure.py.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engram import AsyncMemory, AsyncMemoryClient, Memory, MemoryClient
from engram.cli import main
from engram.embedders.hashing import HashingEmbedder
from engram.errors import NotFoundError, ValidationError
from engram.models import Scope, scope_digest
from on_disk import hashing_server, on_disk, server_files

SECRETISH = "qzvlakehouse7"  # a word only alice's data holds


def config(path: Path) -> dict[str, Any]:
    return {"vector_store": {"provider": "sqlite", "config": {"path": str(path)}}}


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Memory]:
    with Memory(config(tmp_path / "engram.db"), embedder=HashingEmbedder()) as m:
        yield m


def test_erase_removes_the_scope_and_returns_a_receipt_that_names_no_one(memory: Memory) -> None:
    memory.add(f"I live by the {SECRETISH}", user_id="alice", infer=False)
    memory.add("I like kayaks", user_id="alice", agent_id="travel", infer=False)
    memory.add("I like trains", user_id="bob", infer=False)

    receipt = memory.erase(user_id="alice")

    assert receipt["erased"]["memories"] == 2 and receipt["erased"]["episodes"] == 2
    assert receipt["scope_kind"] == "user_id" and receipt["scope_digest"] == scope_digest(Scope("alice"))
    assert "alice" not in json.dumps(receipt)
    assert memory.get_all(user_id="alice")["results"] == []
    assert [item["memory"] for item in memory.get_all(user_id="bob")["results"]] == ["I like trains"]
    assert SECRETISH.encode() not in on_disk(Path(memory.store.location))


def test_receipts_outlive_the_data_and_are_listed_per_scope_newest_first(memory: Memory) -> None:
    memory.add("I like kayaks", user_id="alice", infer=False)
    first = memory.erase(user_id="alice")
    second = memory.erase(user_id="alice")  # nothing left: a receipt of zeros
    other = memory.erase(agent_id="travel", run_id="r1")
    assert [r["id"] for r in memory.erasures(user_id="alice")["results"]] == [second["id"], first["id"]]
    assert set(second["erased"].values()) == {0}
    assert [r["id"] for r in memory.erasures(limit=1)["results"]] == [other["id"]]
    assert memory.erasures(agent_id="travel", run_id="r1")["results"][0]["scope_kind"] == "agent_id+run_id"


def test_erase_needs_a_scope(memory: Memory) -> None:
    with pytest.raises(ValidationError, match="a scope is required"):
        memory.erase()


def test_async_memory_erases_as_memory_does(tmp_path: Path) -> None:
    async def run() -> tuple[Any, Any]:
        async with AsyncMemory(config(tmp_path / "engram.db"), embedder=HashingEmbedder()) as memory:
            await memory.add("I like kayaks", user_id="alice", infer=False)
            receipt = await memory.erase(user_id="alice")
            return receipt, await memory.erasures(user_id="alice")

    receipt, listed = asyncio.run(run())
    assert receipt["erased"]["memories"] == 1 and listed["results"] == [receipt]


# -- over the server -------------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return hashing_server(tmp_path)


def test_both_clients_erase_a_scope_with_its_queued_adds(app: Any) -> None:
    """The app runs in-process without its lifespan, so the queued add stays queued: erasure must
    take its text out of the server's job table too."""
    _, secret = app.state.engram.store.create_key("p", "test")
    transport = httpx.ASGITransport(app=app)

    async def run() -> tuple[Any, Any, Any]:
        async with AsyncMemoryClient(secret, host="http://engram.test", transport=transport) as client:
            await client.add(f"I live by the {SECRETISH}", user_id="alice", infer=False)
            job = await client.add_job(f"The {SECRETISH} froze", user_id="alice", infer=False)
            receipt = await client.erase(user_id="alice")
            return job, receipt, await client.get_all(user_id="alice")

    job, receipt, left = asyncio.run(run())
    assert receipt["erased"]["memories"] == 1 and receipt["erased"]["jobs"] == 1
    assert left["results"] == []
    assert SECRETISH.encode() not in server_files(app)

    def forward(request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await transport.handle_async_request(request)
            return httpx.Response(response.status_code, headers=response.headers, content=await response.aread())

        return asyncio.run(send())

    with MemoryClient(secret, host="http://engram.test", transport=httpx.MockTransport(forward)) as client:
        assert [r["id"] for r in client.erasures(user_id="alice")["results"]] == [receipt["id"]]
        with pytest.raises(ValidationError, match="a scope is required"):
            client.erase()
        with pytest.raises(NotFoundError, match="no job"):
            client.get_job(job["id"])


# -- the CLI -------------------------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "config.json").write_text(json.dumps({"embedder": {"provider": "hashing"}}))
    monkeypatch.setenv("ENGRAM_DB_PATH", str(tmp_path / "engram.db"))
    monkeypatch.setenv("ENGRAM_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.delenv("ENGRAM_SERVER_URL", raising=False)
    return tmp_path / "engram.db"


def test_engram_erase_prints_the_receipt_and_lists_receipts(cli: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["add", f"I live by the {SECRETISH}", "-u", "alice", "--no-infer"]) == 0
    capsys.readouterr()
    assert main(["erase", "--user-id", "alice"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("erased 1 episodes, 1 history, 1 memories; receipt ")
    assert main(["erase", "--receipts", "-u", "alice", "--json"]) == 0
    [receipt] = json.loads(capsys.readouterr().out)["results"]
    assert receipt["id"] in printed and SECRETISH.encode() not in on_disk(cli)


def test_engram_erase_without_a_scope_is_a_usage_error(cli: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["erase"]) == 2
    assert "erase needs a scope" in capsys.readouterr().err
