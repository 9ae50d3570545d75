"""Graph memory through every face: REST (both clients pass relations through) and the MCP tool."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from mcp import Client

from engram import AsyncMemoryClient, Memory, MemoryClient
from engram.embedders.hashing import HashingEmbedder
from engram.llms.scripted import ScriptedLLM
from engram.mcp import build_mcp_server
from engram.server import ServerSettings, create_app

GRAPH_CONFIG = {"embedder": {"provider": "hashing"}, "graph_store": {"provider": "sqlite"}}
MOVES = [
    json.dumps(
        {
            "facts": [{"text": "Alice lives in Paris", "sources": [0]}],
            "relations": [{"source": "I", "relationship": "lives_in", "destination": "Paris"}],
        }
    ),
    json.dumps(
        {
            "facts": [{"text": "Alice works at Acme", "sources": [0]}],
            "relations": [{"source": "I", "relationship": "works_at", "destination": "Acme"}],
        }
    ),
    json.dumps({"decisions": [{"fact": 0, "event": "ADD"}]}),
]


def _turn(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text, "name": "Alice"}]


def _triples(relations: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(r["source"], r["relationship"], r["destination"]) for r in relations}


def test_both_clients_pass_relations_through(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path, memory_config=GRAPH_CONFIG)
    app = create_app(settings, embedder=HashingEmbedder(), llm=ScriptedLLM(MOVES))
    _, secret = app.state.engram.store.create_key("p", "test")
    transport = httpx.ASGITransport(app=app)

    async def run() -> None:
        async with AsyncMemoryClient(secret, host="http://engram.test", transport=transport) as memory:
            added = await memory.add(_turn("I live in Paris"), user_id="alice")
            assert _triples(added["relations"]["added_entities"]) == {("Alice", "lives_in", "Paris")}
            found = await memory.search("Where does Alice live?", user_id="alice")
            assert _triples(found["relations"]) == {("Alice", "lives_in", "Paris")}
            assert found["relations"][0]["score"] == 1.0

    asyncio.run(run())

    def sync_transport(request: httpx.Request) -> httpx.Response:  # the sync client, on the same app
        async def forward() -> httpx.Response:
            response = await transport.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return asyncio.run(forward())

    with MemoryClient(secret, host="http://engram.test", transport=httpx.MockTransport(sync_transport)) as memory:
        memory.add(_turn("I work at Acme"), user_id="alice")
        listed = memory.get_all(user_id="alice")
        assert _triples(listed["relations"]) == {("Alice", "lives_in", "Paris"), ("Alice", "works_at", "Acme")}


def test_the_mcp_tool_lists_an_entitys_relations(tmp_path: Path) -> None:
    config = {"vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}}, **GRAPH_CONFIG}
    with Memory(config, embedder=HashingEmbedder(), llm=ScriptedLLM(MOVES)) as memory:
        memory.add(_turn("I live in Paris"), user_id="alice")
        memory.add(_turn("I work at Acme"), user_id="alice")

        async def run() -> None:
            async with Client(build_mcp_server(memory, user_id="alice")) as client:
                answer = (await client.call_tool("entity_relations", {"entity": "Acme"})).structured_content
                assert _triples(answer["relations"]) == {("Alice", "works_at", "Acme")}
                about_alice = (await client.call_tool("entity_relations", {"entity": "alice"})).structured_content
                assert len(about_alice["relations"]) == 2

        asyncio.run(run())


def test_the_mcp_tool_says_when_the_graph_is_off(tmp_path: Path) -> None:
    config = {"vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}}}
    with Memory(config, embedder=HashingEmbedder()) as memory:

        async def run() -> None:
            async with Client(build_mcp_server(memory, user_id="alice")) as client:
                answer = await client.call_tool("entity_relations", {"entity": "Acme"})
                assert answer.is_error
                assert "graph_store" in answer.content[0].text  # type: ignore[union-attr]

        asyncio.run(run())
