"""``engram ui``: the dashboard over the embedded store, on loopback, behind a key made at start."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from engram import Memory
from engram.embedders.hashing import HashingEmbedder
from engram.server.local_ui import LOCAL_PROJECT, LocalDashboard, prepare_local_dashboard

CONFIG = {"embedder": {"provider": "hashing"}}


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalDashboard]:
    db = tmp_path / "mine.db"
    with Memory({**CONFIG, "vector_store": {"provider": "sqlite", "config": {"path": str(db)}}}) as memory:
        memory.add("I keep bees", user_id="me", infer=False)
    dashboard = prepare_local_dashboard(tmp_path / "server", CONFIG, db_path=db)
    server = uvicorn.Server(uvicorn.Config(dashboard.app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [dashboard.socket]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield dashboard
    server.should_exit = True
    thread.join(10)


def test_it_listens_on_loopback_only(local: LocalDashboard) -> None:
    assert local.socket.getsockname()[0] == "127.0.0.1"
    assert local.url.startswith("http://127.0.0.1:") and local.url.endswith("/ui/")
    assert local.key not in local.url


def test_its_key_reads_the_embedded_store(local: LocalDashboard) -> None:
    base = local.url.removesuffix("/ui/")
    headers = {"Authorization": f"Bearer {local.key}"}
    assert httpx.get(f"{base}/v1/scopes", headers=headers).json()["results"] == [
        {"kind": "user_id", "id": "me", "count": 1}
    ]
    assert httpx.get(f"{base}/v1/scopes").status_code == 401
    assert httpx.get(f"{base}/ui/").status_code == 200


def test_it_has_one_project_and_no_admin_key(local: LocalDashboard) -> None:
    keys = local.app.state.engram.store.list_keys(None)
    assert [key.project for key in keys] == [LOCAL_PROJECT]
    assert local.app.state.engram.settings.admin_key is None


def test_the_embedded_store_is_the_one_memory_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "from-env.db"
    monkeypatch.setenv("ENGRAM_DB_PATH", str(db))
    monkeypatch.delenv("ENGRAM_DATABASE_URL", raising=False)
    with Memory(CONFIG, embedder=HashingEmbedder()) as memory:
        memory.add("note", user_id="u", infer=False)
    dashboard = prepare_local_dashboard(tmp_path / "server", CONFIG)
    dashboard.socket.close()
    assert dashboard.store.config == {"path": str(db)}
    with dashboard.app.state.engram.memories.lease(LOCAL_PROJECT) as memory:
        assert memory.scopes()["results"] == [{"kind": "user_id", "id": "u", "count": 1}]
    dashboard.app.state.engram.memories.close()
    dashboard.app.state.engram.store.close()


def test_the_command_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    from engram.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["ui", "--help"])
    assert exited.value.code == 0
    assert "--no-browser" in capsys.readouterr().out
