"""``engram ui``: the dashboard on the embedded store, served on loopback for one person.

It is an ordinary engram server with one project, ``local``, whose store is the one ``Memory()``
would open (the config's ``vector_store``, else ``$ENGRAM_DATABASE_URL``, else the SQLite file at
``$ENGRAM_DB_PATH`` or ``~/.engram/engram.db``), and one API key generated at start. Reusing the
server rather than adding an unauthenticated local mode means one code path to trust: the page
still signs in, and another program on the machine (or a web page in a browser that tries to reach
127.0.0.1) cannot read the memories without the key. Keys and jobs live in a temporary directory
that is deleted on exit, so the key dies with the process. There is no admin key.
"""

from __future__ import annotations

import os
import socket
import tempfile
import webbrowser
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engram.config import MemoryConfig, ProviderConfig, default_db_path
from engram.storage import DATABASE_URL_ENV

LOCAL_PROJECT = "local"
LOOPBACK = "127.0.0.1"


def embedded_store(config: MemoryConfig, db_path: Path | None = None) -> ProviderConfig:
    """The store ``Memory(config)`` opens; ``db_path`` replaces the SQLite file's location."""
    if db_path is not None:
        return ProviderConfig(provider="sqlite", config={"path": str(db_path.expanduser())})
    if config.vector_store is not None:
        return config.vector_store
    if url := os.environ.get(DATABASE_URL_ENV):
        return ProviderConfig(provider="pgvector", config={"url": url})
    return ProviderConfig(provider="sqlite", config={"path": str(config.history_db_path or default_db_path())})


@dataclass
class LocalDashboard:
    url: str
    key: str
    store: ProviderConfig
    socket: socket.socket
    app: Any


def prepare_local_dashboard(
    data_dir: Path, config: Mapping[str, Any] | None = None, *, db_path: Path | None = None, port: int = 0
) -> LocalDashboard:
    """The app on ``data_dir`` (for keys and jobs), a key of the ``local`` project, and a loopback socket."""
    from engram.server import ServerSettings, create_app

    memory_config = MemoryConfig.parse(config)
    store = embedded_store(memory_config, db_path)
    # The server's own store (keys, jobs) stays in data_dir: its config names SQLite explicitly.
    server_config = memory_config.model_copy(update={"vector_store": ProviderConfig(provider="sqlite")})
    settings = ServerSettings(
        data_dir=data_dir,
        memory_config=server_config.model_dump(exclude_none=True),
        admin_key=None,
        project_stores={LOCAL_PROJECT: store.model_dump()},
    )
    app = create_app(settings)
    _, key = app.state.engram.store.create_key(LOCAL_PROJECT, "engram ui")
    listener = socket.socket()
    listener.bind((LOOPBACK, port))
    return LocalDashboard(f"http://{LOOPBACK}:{listener.getsockname()[1]}/ui/", key, store, listener, app)


def run_local_dashboard(
    config: Mapping[str, Any] | None = None,
    *,
    db_path: Path | None = None,
    port: int = 0,
    open_browser: bool = True,
    log_level: str = "warning",
) -> None:
    """Serve the dashboard until interrupted, printing where and the key to sign in with."""
    import uvicorn

    with tempfile.TemporaryDirectory(prefix="engram-ui-") as data_dir:
        local = prepare_local_dashboard(Path(data_dir), config, db_path=db_path, port=port)
        where = local.store.config.get("path") or "the configured database"
        print(f"engram dashboard for {where}\n  open   {local.url}\n  key    {local.key}")
        print("The key works only while this command runs. Stop with Ctrl+C.", flush=True)
        if open_browser:
            webbrowser.open(local.url)  # the key is not in the URL: paste it into the sign-in form
        server = uvicorn.Server(uvicorn.Config(local.app, log_level=log_level, lifespan="on"))
        server.run(sockets=[local.socket])
