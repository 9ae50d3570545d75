"""Servers on several machines sharing one PostgreSQL: keys, jobs and memories live only in the database.

Two servers here have separate data directories (two machines) and one database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from engram import MemoryClient
from engram.cli import main
from engram.errors import StorageError
from engram.server import ServerSettings
from engram.server.projects import project_schema
from engram.server.store import SQLiteServerStore
from engram.server.store_postgres import PostgresServerStore
from engram.storage import DATABASE_URL_ENV

from .conftest import LiveServer, start_server
from .test_jobs import wait_for


@pytest.fixture
def two_servers(tmp_path: Path, pg_server_config: dict[str, Any]) -> Iterator[tuple[LiveServer, LiveServer]]:
    config = pg_server_config
    first = start_server(tmp_path / "machine-a", memory_config=config)
    second = start_server(tmp_path / "machine-b", memory_config=config)
    yield first, second
    first.stop()
    second.stop()


def test_a_key_made_on_one_server_works_on_the_other_until_revoked_there(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    key = a.new_key("shop")
    with b.client(key) as client:
        assert client.get("/v1/memories", params={"user_id": "alice"}).status_code == 200
    with b.admin() as admin:
        (listed,) = admin.get("/v1/keys", params={"project": "shop"}).json()
        assert admin.delete(f"/v1/keys/{listed['id']}").status_code == 200
    with a.client(key) as client:
        assert client.get("/v1/memories", params={"user_id": "alice"}).status_code == 401


def test_memories_written_through_one_server_are_read_through_the_other(
    two_servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = two_servers
    key = a.new_key("shop")
    with MemoryClient(key, host=a.url) as on_a, MemoryClient(key, host=b.url) as on_b:
        memory_id = on_a.add("I like green tea", user_id="alice", infer=False)["results"][0]["id"]
        assert on_b.get(memory_id)["memory"] == "I like green tea"
        on_b.update(memory_id, "I like black tea")
        assert on_a.search("tea", user_id="alice")["results"][0]["memory"] == "I like black tea"
        assert [h["event"] for h in on_a.history(memory_id)] == ["ADD", "UPDATE"]
        on_b.delete_all(user_id="alice")
        assert on_a.get_all(user_id="alice")["results"] == []


def test_a_job_queued_on_one_server_is_read_on_the_other(two_servers: tuple[LiveServer, LiveServer]) -> None:
    a, b = two_servers
    key = a.new_key("shop")
    with a.client(key) as on_a, b.client(key) as on_b:
        body = {"messages": "I play chess", "user_id": "alice", "infer": False, "async_mode": True}
        job_id = on_a.post("/v1/memories", json=body).json()["id"]
        assert wait_for(on_b, job_id)["status"] == "succeeded"
        assert on_b.get("/v1/memories", params={"user_id": "alice"}).json()["results"][0]["memory"] == "I play chess"


def test_a_project_of_one_server_is_a_schema_the_other_opens(
    two_servers: tuple[LiveServer, LiveServer], postgres_url: str
) -> None:
    a, b = two_servers
    with MemoryClient(a.new_key("shop"), host=a.url) as shop, MemoryClient(b.new_key("blog"), host=b.url) as blog:
        memory_id = shop.add("I like green tea", user_id="alice", infer=False)["results"][0]["id"]
        assert blog.get(memory_id) is None  # another project's id answers 404, whichever server
    namespace = (a.settings.memory_config or {})["vector_store"]["config"]["schema"]
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (namespace + "%",))
        schemas = {str(row[0]) for row in rows}
    assert {f"{namespace}_server", project_schema(namespace, "shop"), project_schema(namespace, "blog")} == schemas


def test_engram_database_url_puts_the_keys_in_postgres_too(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        existed = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'engram_server'").fetchone()
        store = ServerSettings(data_dir=tmp_path, memory_config={"embedder": {"provider": "hashing"}}).open_store()
        try:
            assert isinstance(store, PostgresServerStore) and store.schema == "engram_server"
        finally:
            store.close()
            if not existed:
                conn.execute("DROP SCHEMA engram_server CASCADE")
    assert not (tmp_path / "server.db").exists()
    monkeypatch.delenv(DATABASE_URL_ENV)
    local = ServerSettings(data_dir=tmp_path).open_store()
    assert isinstance(local, SQLiteServerStore)
    local.close()


def test_engram_keys_with_a_pgvector_config_writes_to_postgres(
    tmp_path: Path, pg_server_config: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    config = pg_server_config
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    assert main(["keys", "--config", str(config_file), "create", "--project", "shop"]) == 0
    secret = capsys.readouterr().out.splitlines()[1]
    server = start_server(tmp_path, memory_config=config)
    try:
        with server.client(secret) as client:
            assert client.get("/v1/memories", params={"user_id": "alice"}).status_code == 200
    finally:
        server.stop()
    assert not (tmp_path / "server.db").exists()


def test_a_server_whose_database_is_unreachable_fails_at_start_saying_where(tmp_path: Path) -> None:
    url = f"postgresql://engram@/engram?host={tmp_path}&connect_timeout=2"  # no server listens there
    config = {"vector_store": {"provider": "pgvector", "config": {"url": url}}}
    expected = r"(?s)cannot reach the server database at postgresql://engram@.*Check the URL"
    with pytest.raises(StorageError, match=expected):
        ServerSettings(data_dir=tmp_path, memory_config=config).open_store()
