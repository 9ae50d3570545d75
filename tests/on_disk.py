"""What a store leaves on disk, read as bytes: for the tests that look for text that must be gone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engram.embedders.hashing import HashingEmbedder
from engram.server import ServerSettings, create_app


def on_disk(path: Path) -> bytes:
    """The bytes of a SQLite database: the file, its WAL and its journal."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists())


def hashing_server(data_dir: Path) -> Any:
    """An engram server app on ``data_dir`` with the hashing embedder."""
    settings = ServerSettings(data_dir=data_dir, memory_config={"embedder": {"provider": "hashing"}})
    return create_app(settings, embedder=HashingEmbedder())


def server_files(app: Any) -> bytes:
    """The bytes of every database of a server app: its own and each project's."""
    data_dir: Path = app.state.engram.settings.data_dir
    return b"".join(on_disk(path) for path in [data_dir / "server.db", *data_dir.glob("projects/*.db")])
