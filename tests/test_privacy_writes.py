"""Screening on every write path: a card number or an API key given to ``add`` (or ``update``) never
reaches the store (the raw bytes of the SQLite file and its WAL, and ``get_all``) nor the LLM (every
call a ScriptedLLM received), on every face: Memory, AsyncMemory, both clients through the server,
the server's job queue, the MCP tool and the CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from engram import AsyncMemory, AsyncMemoryClient, Memory, MemoryClient
from engram.cli import main
from engram.embedders.hashing import HashingEmbedder
from engram.errors import ValidationError
from engram.llms.base import LLM, ChatMessage
from engram.llms.scripted import ScriptedLLM
from engram.mcp import build_mcp_server
from engram.server import ServerSettings, create_app
from on_disk import hashing_server, on_disk, server_files
from polling import wait_until

CARD = "4242 4242 4242 4242"
KEY = "sk-proj-4fGh7Kq2Lm9Xz3Rt8Vb1Nc6Yw0Pa5Sd2Jk7Hq"
ECHOED = "5555 5555 5555 4444"  # a card the model writes that no message held
SAID = f"My card is {CARD} and my OpenAI key is {KEY}"
VALUES = [CARD, CARD.replace(" ", ""), KEY]
REDACTED = [{"category": "secret", "count": 1}, {"category": "card", "count": 1}]


def leaked(data: bytes | str) -> list[str]:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return [value for value in [*VALUES, ECHOED, ECHOED.replace(" ", "")] if value in text]


def config(path: Path, **more: Any) -> dict[str, Any]:
    return {"vector_store": {"provider": "sqlite", "config": {"path": str(path)}}, **more}


def obeying_model(extra_fact: str = "") -> Callable[[list[ChatMessage]], str]:
    """An extraction answer that turns the user's message into a fact (and, given, adds ``extra_fact``)."""

    def answer(messages: list[ChatMessage]) -> str:
        said = str(messages[-1]["content"]).rsplit("[0] user: ", 1)[-1]
        facts = [{"text": said, "sources": [0]}] + ([{"text": extra_fact, "sources": [0]}] if extra_fact else [])
        return json.dumps({"facts": facts, "forget": []})

    return answer


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "engram.db"


# -- Memory ------------------------------------------------------------------------------------------


def test_a_card_and_a_key_said_verbatim_are_redacted_before_they_are_stored(db: Path) -> None:
    with Memory(config(db), embedder=HashingEmbedder()) as memory:
        added = memory.add(SAID, user_id="alice", infer=False)
        listed = memory.get_all(user_id="alice")["results"]
        [episode] = memory.episodes(listed[0]["id"])
    assert added["redactions"] == REDACTED
    assert [item["memory"] for item in listed] == ["My card is [card ••4242] and my OpenAI key is [secret]"]
    assert "[secret]" in episode["content"]
    assert leaked(on_disk(db)) == []


def test_the_llm_never_receives_a_redacted_value_and_what_it_echoes_is_redacted(db: Path) -> None:
    llm = ScriptedLLM([obeying_model(f"Paid with the card {ECHOED}")])
    with Memory(config(db, keep_uncovered=False), embedder=HashingEmbedder(), llm=llm) as memory:
        added = memory.add(SAID, user_id="alice")
        stored = [item["memory"] for item in memory.get_all(user_id="alice")["results"]]
    assert leaked(json.dumps([call.messages for call in llm.calls])) == []
    assert "Paid with the card [card ••4444]" in stored
    assert leaked(json.dumps(stored)) == [] and leaked(on_disk(db)) == []
    assert added["redactions"] == [{"category": "secret", "count": 1}, {"category": "card", "count": 2}]


def test_a_refused_category_raises_naming_it_and_writes_nothing(db: Path) -> None:
    llm = ScriptedLLM()
    refusing = config(db, privacy={"card": "refuse"})
    with Memory(refusing, embedder=HashingEmbedder(), llm=llm) as memory:
        with pytest.raises(ValidationError, match="payment card number") as raised:
            memory.add(SAID, user_id="alice")
        assert memory.get_all(user_id="alice")["results"] == []
        assert memory.stats()["episodes"] == 0
    assert leaked(str(raised.value)) == [] and llm.calls == []
    assert leaked(on_disk(db)) == []


def test_a_fact_the_model_writes_with_a_refused_category_is_dropped_with_a_warning(db: Path) -> None:
    llm = ScriptedLLM([obeying_model(f"Paid with the card {ECHOED}")])
    refusing = config(db, keep_uncovered=False, privacy={"card": "refuse"})
    with Memory(refusing, embedder=HashingEmbedder(), llm=llm) as memory:
        added = memory.add("I paid for the concert tickets", user_id="alice")
    assert [r["memory"] for r in added["results"]] == ["I paid for the concert tickets"]
    assert any("payment card number" in warning for warning in added["warnings"])
    assert leaked(json.dumps(added)) == [] and leaked(on_disk(db)) == []


def test_metadata_values_and_updates_are_screened(db: Path) -> None:
    with Memory(config(db), embedder=HashingEmbedder()) as memory:
        added = memory.add("Bought a bike", user_id="alice", infer=False, metadata={"paid_with": CARD, "n": 1})
        memory_id = added["results"][0]["id"]
        updated = memory.update(memory_id, f"Bought a bike, key {KEY}", metadata={"notes": [f"card {CARD}"]})
        item = memory.get(memory_id)
    assert added["redactions"] == [{"category": "card", "count": 1}]
    assert updated["redactions"] == REDACTED
    assert item is not None and item["metadata"] == {"notes": ["card [card ••4242]"]}
    assert item["memory"] == "Bought a bike, key [secret]"
    assert leaked(on_disk(db)) == []


def test_a_procedural_summary_is_screened(db: Path) -> None:
    llm = ScriptedLLM([json.dumps({"summary": f"Logged in with {KEY} and listed the files"})])
    with Memory(config(db), embedder=HashingEmbedder(), llm=llm) as memory:
        added = memory.add("ran ls", agent_id="bot", memory_type="procedural_memory")
    assert added["results"][0]["memory"] == "Logged in with [secret] and listed the files"
    assert added["redactions"] == [{"category": "secret", "count": 1}]


class SeeingLLM(ScriptedLLM):
    """A ScriptedLLM with a vision model that describes every image as a photo of a card."""

    @property
    def vision_llm(self) -> LLM:
        return ScriptedLLM([f"A credit card, number {CARD}, on a table."])


def test_an_image_description_is_screened_before_the_extraction_sees_it(db: Path) -> None:
    llm = SeeingLLM([obeying_model()])
    photo = [{"type": "text", "text": "my new card"}, {"type": "image_url", "image_url": {"url": "http://x/c.png"}}]
    with Memory(config(db, keep_uncovered=False), embedder=HashingEmbedder(), llm=llm) as memory:
        added = memory.add([{"role": "user", "content": photo}], user_id="alice")
    assert added["redactions"] == [{"category": "card", "count": 1}]
    assert "[card ••4242]" in json.dumps(llm.calls[0].messages, ensure_ascii=False)
    assert leaked(json.dumps([call.messages for call in llm.calls])) == [] and leaked(on_disk(db)) == []


def test_async_memory_screens_as_memory_does(db: Path) -> None:
    async def run() -> Any:
        async with AsyncMemory(config(db), embedder=HashingEmbedder()) as memory:
            return await memory.add(SAID, user_id="alice", infer=False)

    assert asyncio.run(run())["redactions"] == REDACTED
    assert leaked(on_disk(db)) == []


# -- the server, its clients and its job queue ---------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return hashing_server(tmp_path)


def sync_client(app: Any, secret: str) -> MemoryClient:
    """MemoryClient on the app in-process (the async ASGI transport, driven one request at a time)."""
    transport = httpx.ASGITransport(app=app)

    def forward(request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await transport.handle_async_request(request)
            return httpx.Response(response.status_code, headers=response.headers, content=await response.aread())

        return asyncio.run(send())

    return MemoryClient(secret, host="http://engram.test", transport=httpx.MockTransport(forward))


def test_both_clients_get_redactions_and_the_project_store_never_holds_the_values(app: Any) -> None:
    _, secret = app.state.engram.store.create_key("p", "test")
    with sync_client(app, secret) as client:
        added = client.add(SAID, user_id="alice", infer=False)
        listed = client.get_all(user_id="alice")["results"]

    async def run() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with AsyncMemoryClient(secret, host="http://engram.test", transport=transport) as client:
            return await client.add([{"role": "user", "content": f"Second card {CARD}"}], user_id="bob", infer=False)

    assert added["redactions"] == REDACTED and asyncio.run(run())["redactions"] == [{"category": "card", "count": 1}]
    assert leaked(json.dumps(listed)) == []
    assert leaked(server_files(app)) == []


def test_an_async_add_is_screened_before_it_is_queued(app: Any) -> None:
    state = app.state.engram
    _, secret = state.store.create_key("p", "test")
    with sync_client(app, secret) as client:
        job = client.add_job([{"role": "user", "content": SAID}], user_id="alice", infer=False)
        assert leaked(server_files(app)) == []  # queued, not run: the workers start with the app's lifespan
        state.jobs.start()
        try:
            wait_until(lambda: client.get_job(job["id"])["status"] == "succeeded", what="the job", timeout=20)
        finally:
            state.jobs.stop()
        assert client.get_job(job["id"])["result"]["redactions"] == REDACTED
    assert leaked(server_files(app)) == []


def test_an_async_add_with_a_refused_category_is_refused_at_once(tmp_path: Path) -> None:
    memory_config = {"embedder": {"provider": "hashing"}, "privacy": {"secret": "refuse"}}
    app = create_app(ServerSettings(data_dir=tmp_path, memory_config=memory_config), embedder=HashingEmbedder())
    _, secret = app.state.engram.store.create_key("p", "test")
    with sync_client(app, secret) as client, pytest.raises(ValidationError, match=r"privacy\.secret"):
        client.add_job(SAID, user_id="alice", infer=False)
    assert leaked(server_files(app)) == []


# -- MCP and the CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def memory(db: Path) -> Iterator[Memory]:
    with Memory(config(db), embedder=HashingEmbedder()) as m:
        yield m


def test_the_mcp_add_tool_reports_redactions_and_stores_none_of_the_values(memory: Memory, db: Path) -> None:
    async def run() -> Any:
        async with Client(build_mcp_server(memory, user_id="alice")) as client:
            return (await client.call_tool("add_memory", {"text": SAID, "infer": False})).structured_content

    assert asyncio.run(run())["redactions"] == REDACTED
    assert leaked(json.dumps(memory.get_all(user_id="alice"))) == [] and leaked(on_disk(db)) == []


def test_the_cli_add_reports_redactions_and_stores_none_of_the_values(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"embedder": {"provider": "hashing"}}))
    monkeypatch.setenv("ENGRAM_DB_PATH", str(db))
    monkeypatch.setenv("ENGRAM_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.delenv("ENGRAM_SERVER_URL", raising=False)
    assert main(["add", SAID, "--user-id", "alice", "--no-infer", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["redactions"] == REDACTED
    assert main(["list", "--user-id", "alice", "--json"]) == 0
    assert leaked(capsys.readouterr().out) == [] and leaked(on_disk(db)) == []
