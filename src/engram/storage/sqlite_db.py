"""The SQLite plumbing shared by the memory store and the server's key and job store.

One ``SQLiteDatabase`` is one connection to one file (or ``":memory:"``), shared by the
threads of a process:

- ``connect``: WAL mode and a busy timeout, so other processes read while one writes; secure
  deletion, so that what is deleted is overwritten with zeros rather than left in free pages;
- ``transaction()``: ``BEGIN IMMEDIATE``, and savepoints when nested (as sqlite-utils'
  ``Database.atomic``); a rollback re-raises the original error;
- ``migrate(migrations)``: named, ordered migration functions, counted in ``PRAGMA user_version``;
- ``guard``: the lock every read takes, which also turns any ``sqlite3.Error`` into a
  ``StorageError``. A writer that holds the file longer than the busy timeout becomes a
  ``StorageError`` saying so (the server answers 503), never a raw ``OperationalError``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Literal

from engram.errors import ConfigError, StorageError, ValidationError

BUSY_TIMEOUT_MS = 10_000
Synchronous = Literal["normal", "full"]
SYNCHRONOUS: tuple[Synchronous, ...] = ("normal", "full")

Migration = Callable[[sqlite3.Connection], None]


def storage_error(exc: sqlite3.Error, where: str) -> StorageError:
    """The StorageError for a failed SQLite call, saying what to do about it."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StorageError(
            f"the SQLite database at {where} stayed locked by another writer for longer than the busy "
            "timeout: retry, or move many concurrent writers to PostgreSQL"
        )
    return StorageError(f"the SQLite database at {where} failed: {type(exc).__name__}: {text}")


class _Guard:
    """The connection's lock, which also maps SQLite errors raised while it is held."""

    def __init__(self, lock: threading.RLock, where: str) -> None:
        self._lock = lock
        self._where = where

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._lock.release()
        if isinstance(exc, sqlite3.Error):
            raise storage_error(exc, self._where) from exc
        if isinstance(exc, UnicodeEncodeError):  # a lone surrogate in a value: not text SQLite can store
            raise ValidationError(f"a value is not valid Unicode text ({exc.reason}): fix how it was decoded") from exc


class SQLiteDatabase:
    """One SQLite connection with its lock, transactions, migrations and error mapping."""

    def __init__(
        self, path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, synchronous: Synchronous = "normal"
    ) -> None:
        if synchronous not in SYNCHRONOUS:
            raise ConfigError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}, got {synchronous!r}")
        self.path = str(path)
        if self.path != ":memory:":
            self.path = str(Path(self.path).expanduser())
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot open the store at {self.path}: its folder cannot be created ({exc.strerror or exc}); "
                    "point ENGRAM_DB_PATH (or the config's vector_store path) to a folder that can be"
                ) from exc
        try:
            self.connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self.connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self.connection.execute("PRAGMA secure_delete = ON")  # deleted text is overwritten, not left in free pages
            if self.path != ":memory:":
                self.connection.execute("PRAGMA journal_mode = WAL")
                # NORMAL: a killed process loses nothing committed; a power cut may lose the last
                # transactions (the file stays consistent). FULL also survives that, at a cost per
                # commit (docs/hardening.md has the measured cost).
                self.connection.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the SQLite database at {self.path}: {exc}") from exc
        self.lock = threading.RLock()  # one connection, shared by the threads of AsyncMemory
        self.guard = _Guard(self.lock, self.path)
        self.depth = 0  # open transactions: 1 is the outer one, more are savepoints

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction; nested calls become savepoints of the outer one."""
        with self.guard:
            savepoint = f"sp{self.depth}"
            self.connection.execute("BEGIN IMMEDIATE" if self.depth == 0 else f"SAVEPOINT {savepoint}")
            self.depth += 1
            try:
                yield self.connection
            except BaseException:
                self.depth -= 1
                self._roll_back(savepoint)
                raise
            self.depth -= 1
            try:
                self.connection.execute(f"RELEASE {savepoint}" if self.depth > 0 else "COMMIT")
            except sqlite3.Error:
                self._roll_back(savepoint)  # a failed COMMIT leaves the transaction open
                raise

    def _roll_back(self, savepoint: str) -> None:
        """Undo the failed (sub)transaction; the error that caused it is the one raised."""
        try:
            if self.depth == 0:
                self.connection.execute("ROLLBACK")
            else:
                self.connection.execute(f"ROLLBACK TO {savepoint}")
                self.connection.execute(f"RELEASE {savepoint}")
        except sqlite3.OperationalError:
            pass  # SQLite already rolled back (e.g. after a failed COMMIT or a full disk)

    def migrate(self, migrations: Sequence[Migration], *, writer: str = "engram") -> None:
        """Apply the migrations this file lacks, in one transaction."""
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(migrations):
                raise StorageError(
                    f"{self.path} was written by a newer {writer} (schema {version}, this one "
                    f"knows {len(migrations)}): upgrade engram to open it."
                )
            for migration in migrations[version:]:
                migration(db)
            db.execute(f"PRAGMA user_version = {len(migrations)}")

    def close(self) -> None:
        with self.lock:
            self.connection.close()


__all__ = ["BUSY_TIMEOUT_MS", "Migration", "SQLiteDatabase", "storage_error"]
