"""The MCP server, driven by the mcp SDK's own client: in-process, over stdio and over streamable HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from engram import Memory, MemoryClient
from engram.embedders.hashing import HashingEmbedder
from engram.mcp import TOOL_NAMES, build_mcp_server
from polling import wait_until

from .conftest import LiveServer

Session = Callable[[Client], Awaitable[None]]


def call(client: Client, tool: str, **arguments: Any) -> Awaitable[Any]:
    return client.call_tool(tool, arguments)


async def exercise_every_tool(client: Client) -> None:
    """add, search, list, get, episodes, update, delete, delete_all, erase: the whole tool set, in the bound scope."""
    assert sorted(t.name for t in (await client.list_tools()).tools) == sorted(TOOL_NAMES)
    added = (await call(client, "add_memory", text="I like green tea", infer=False)).structured_content
    memory_id = added["results"][0]["id"]
    await call(client, "add_memory", text="I play the cello", infer=False)
    found = (await call(client, "search_memories", query="green tea", limit=1)).structured_content
    assert [r["id"] for r in found["results"]] == [memory_id]
    beside = (await call(client, "search_memories", query="green tea cello", limit=1, episodes=2)).structured_content
    assert [e["content"] for e in beside["episodes"]] == ["I play the cello"]
    assert len((await call(client, "list_memories")).structured_content["results"]) == 2
    assert (await call(client, "get_memory", memory_id=memory_id)).structured_content["user_id"] == "alice"
    episodes = await call(client, "get_memory_episodes", memory_id=memory_id)
    assert not episodes.is_error and "I like green tea" in json.dumps(episodes.structured_content)
    long_ago = {"as_of": "2000-01-01"}
    assert (await call(client, "search_memories", query="green tea", **long_ago)).structured_content["results"] == []
    assert (await call(client, "list_memories", **long_ago)).structured_content["results"] == []
    await call(client, "update_memory", memory_id=memory_id, text="I like black tea")
    assert (await call(client, "get_memory", memory_id=memory_id)).structured_content["memory"] == "I like black tea"
    await call(client, "delete_memory", memory_id=memory_id)
    assert (await call(client, "get_memory", memory_id=memory_id)).is_error
    await call(client, "delete_all_memories")
    assert (await call(client, "list_memories")).structured_content["results"] == []
    await call(client, "add_memory", text="I keep bees", infer=False)
    receipt = (await call(client, "erase_memories")).structured_content
    assert (receipt["erased"]["memories"], receipt["scope_kind"]) == (1, "user_id")
    assert (await call(client, "list_memories")).structured_content["results"] == []


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Memory]:
    config = {"vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}}}
    with Memory(config, embedder=HashingEmbedder()) as m:
        yield m


def test_every_tool_in_process(memory: Memory) -> None:
    async def run() -> None:
        async with Client(build_mcp_server(memory, user_id="alice")) as client:
            await exercise_every_tool(client)

    asyncio.run(run())


def test_a_bound_server_refuses_other_scopes_and_ids(memory: Memory) -> None:
    bobs = memory.add("Bob's secret", user_id="bob", infer=False)["results"][0]["id"]

    async def run() -> None:
        async with Client(build_mcp_server(memory, user_id="alice")) as client:
            refused = await call(client, "search_memories", query="secret", user_id="bob")
            assert refused.is_error and "bound to user_id='alice'" in refused.content[0].text
            for tool in ("get_memory", "delete_memory"):
                assert (await call(client, tool, memory_id=bobs)).is_error
            assert (await call(client, "update_memory", memory_id=bobs, text="x")).is_error

    asyncio.run(run())
    assert (memory.get(bobs) or {}).get("memory") == "Bob's secret"


def test_an_unbound_server_takes_the_scope_per_call(memory: Memory) -> None:
    async def run() -> None:
        async with Client(build_mcp_server(memory)) as client:
            await call(client, "add_memory", text="Use metric units", agent_id="planner", infer=False)
            listed = await call(client, "list_memories", agent_id="planner")
            assert listed.structured_content["results"][0]["memory"] == "Use metric units"
            assert "scope is required" in (await call(client, "list_memories")).content[0].text

    asyncio.run(run())


def test_tools_over_the_rest_server(live_server: LiveServer, project_key: str) -> None:
    async def run() -> None:
        with MemoryClient(project_key, host=live_server.url) as remote:
            async with Client(build_mcp_server(remote, user_id="alice")) as client:
                await exercise_every_tool(client)

    asyncio.run(run())


def mcp_command(tmp_path: Path, *extra: str) -> list[str]:
    config = tmp_path / "config.json"
    db = tmp_path / "mcp.db"
    config.write_text(
        json.dumps(
            {
                "embedder": {"provider": "hashing"},
                "vector_store": {"provider": "sqlite", "config": {"path": str(db)}},
            }
        )
    )
    return [sys.executable, "-m", "engram.cli", "mcp", "--config", str(config), "--user-id", "alice", *extra]


def test_every_tool_over_stdio(tmp_path: Path) -> None:
    command = mcp_command(tmp_path)
    params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))

    async def run() -> None:
        async with Client(params) as client:
            await exercise_every_tool(client)

    asyncio.run(asyncio.wait_for(run(), 60))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_every_tool_over_streamable_http(tmp_path: Path) -> None:
    port = free_port()
    command = mcp_command(tmp_path, "--transport", "http", "--host", "127.0.0.1", "--port", str(port))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:

        def up() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            return listening(port)

        wait_until(up, what="the MCP server to listen", timeout=30, interval=0.1)

        async def run() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                await exercise_every_tool(client)

        asyncio.run(asyncio.wait_for(run(), 60))
    finally:
        process.terminate()
        process.wait(10)
