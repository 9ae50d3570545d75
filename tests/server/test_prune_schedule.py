"""A server configured with ``prune_interval_s`` prunes every project on its own."""

from __future__ import annotations

import time
from pathlib import Path

from engram import MemoryClient

from .conftest import start_server


def test_the_server_prunes_expired_memories_on_a_schedule(tmp_path: Path) -> None:
    server = start_server(tmp_path, prune_interval_s=0.2)
    try:
        client = MemoryClient(server.new_key(), host=server.url)
        added = client.add("Parking spot 12", user_id="u", infer=False, expiration_date="2000-01-01")
        memory_id = added["results"][0]["id"]
        deadline = time.monotonic() + 30
        while [row["event"] for row in client.history(memory_id)] != ["ADD", "DELETE"]:
            assert time.monotonic() < deadline, "the scheduled prune never ran"
            time.sleep(0.1)
        assert client.get(memory_id) is None
    finally:
        server.stop()


def test_without_an_interval_nothing_is_pruned(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        client = MemoryClient(server.new_key(), host=server.url)
        memory_id = client.add("Old", user_id="u", infer=False, expiration_date="2000-01-01")["results"][0]["id"]
        time.sleep(0.5)
        assert [row["event"] for row in client.history(memory_id)] == ["ADD"]
    finally:
        server.stop()
