"""What the server keeps besides memories: projects, hashed API keys and add jobs.

``ServerStore`` is the interface; ``SQLiteServerStore`` implements it in its
own small SQLite file (``server.db`` in the data directory), with named,
ordered migrations like the memory store, and ``PostgresServerStore``
(``store_postgres.py``) in one schema of a PostgreSQL database, so that many
server processes on many machines can share it: nothing a request needs
lives in a process.

Keys are random 256-bit secrets, so a plain SHA-256 of the key is enough to
store them safely (a slow password hash protects guessable secrets; these are
not guessable). Only the hash is stored; the key is shown once, on creation.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from engram.errors import ValidationError
from engram.models import SCOPE_KEYS, iso, utcnow
from engram.storage.sqlite_db import SQLiteDatabase

KEY_PREFIX = "ek_"
PROJECT_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")  # whole name: fullmatch, never "$" (it allows "\n")


@dataclass(frozen=True)
class ApiKey:
    id: str  # public handle, safe to show and log (the secret is never stored)
    project: str
    name: str
    created_at: str
    revoked_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


class JobStatus:
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    id: str
    project: str
    status: str
    request: dict[str, Any]
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The public view: the request body stays private to the worker."""
        return {
            "id": self.id,
            "status": self.status,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "result": self.result,
            "error": self.error,
        }


INTERRUPTED_ERROR = {
    "code": "job_interrupted",
    "message": "the server running this job stopped before it finished; its add may or may not "
    "have been applied (add is idempotent for infer=False: submit it again)",
}


def new_key_id() -> str:
    return "key_" + uuid.uuid4().hex[:16]


def new_job_id() -> str:
    return "job_" + uuid.uuid4().hex


def check_project(name: str) -> str:
    if not isinstance(name, str) or not PROJECT_PATTERN.fullmatch(name):
        raise ValidationError(
            f"project names are 1-64 lowercase letters, digits, '-' or '_' (starting with a letter "
            f"or digit), got {name!r}"
        )
    return name


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ServerStore(Protocol):
    """Projects, API keys and jobs. Every method is one transaction."""

    def create_key(self, project: str, name: str) -> tuple[ApiKey, str]:
        """A new key for ``project`` (created if new): the record and the secret, shown once."""
        ...

    def authenticate(self, secret: str) -> ApiKey | None:
        """The live key with this secret, or None (unknown or revoked)."""
        ...

    def list_keys(self, project: str | None = None) -> list[ApiKey]: ...

    def revoke_key(self, key_id: str) -> ApiKey | None:
        """Revoke a key; None when no key has that id."""
        ...

    def projects(self) -> list[str]: ...

    def create_job(self, project: str, request: dict[str, Any]) -> Job: ...

    def get_job(self, project: str, job_id: str) -> Job | None:
        """The job, only if it belongs to ``project``."""
        ...

    def claim_job(self, worker: str) -> Job | None:
        """Atomically move the oldest pending job to running for ``worker``."""
        ...

    def heartbeat(self, worker: str) -> None:
        """Mark the worker's running jobs as alive."""
        ...

    def finish_job(self, job_id: str, *, result: dict[str, Any] | None, error: dict[str, Any] | None) -> None: ...

    def fail_stale_jobs(self, older_than: timedelta) -> int:
        """Fail running jobs whose worker stopped beating; returns how many."""
        ...

    def prune_jobs(self, older_than: timedelta) -> int:
        """Delete finished jobs that finished more than ``older_than`` ago; returns how many."""
        ...

    def erase_jobs(self, project: str, scope: Mapping[str, str]) -> int:
        """Delete the project's jobs (any status) whose add named every id of ``scope`` (``user_id``,
        ``agent_id``, ``run_id``; at least one): their requests and results hold the scope's text.
        Returns how many."""
        ...

    def close(self) -> None: ...


def job_scope(scope: Mapping[str, str]) -> dict[str, str]:
    """The owner ids an erasure of jobs matches on; refuses none (it would match every job)."""
    ids = {key: scope[key] for key in SCOPE_KEYS if scope.get(key)}
    if not ids:
        raise ValidationError("a scope is required: pass at least one of user_id, agent_id or run_id")
    return ids


# -- the SQLite implementation -------------------------------------------------------------


def _create_tables(db: sqlite3.Connection) -> None:
    for statement in (
        "CREATE TABLE projects (name TEXT PRIMARY KEY, created_at TEXT NOT NULL)",
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            project TEXT NOT NULL REFERENCES projects (name),
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )""",
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            project TEXT NOT NULL,
            status TEXT NOT NULL,
            request TEXT NOT NULL,
            result TEXT,
            error TEXT,
            worker TEXT,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            heartbeat_at TEXT
        )""",
        "CREATE INDEX jobs_status ON jobs (status, created_at)",
    ):
        db.execute(statement)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_create_tables]
"""Append new migrations; never edit or reorder shipped ones."""


class SQLiteServerStore:
    def __init__(self, path: str | Path) -> None:
        self._database = SQLiteDatabase(path)
        self.path = self._database.path
        self._db = self._database.connection
        self._lock = self._database.guard  # reads hold it; it also turns SQLite errors into StorageError
        self._database.migrate(MIGRATIONS, writer="engram server")

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._database.transaction()

    def close(self) -> None:
        self._database.close()

    # -- keys ------------------------------------------------------------------------------

    def create_key(self, project: str, name: str) -> tuple[ApiKey, str]:
        check_project(project)
        secret = new_key_secret()
        key = ApiKey(id=new_key_id(), project=project, name=name, created_at=iso(utcnow()))
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO projects VALUES (?, ?)", (project, key.created_at))
            db.execute(
                "INSERT INTO api_keys (id, hash, project, name, created_at) VALUES (?, ?, ?, ?, ?)",
                (key.id, hash_key(secret), project, name, key.created_at),
            )
        return key, secret

    def authenticate(self, secret: str) -> ApiKey | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, project, name, created_at, revoked_at FROM api_keys WHERE hash = ? AND revoked_at IS NULL",
                (hash_key(secret),),
            ).fetchone()
        return ApiKey(*row) if row else None

    def list_keys(self, project: str | None = None) -> list[ApiKey]:
        sql = "SELECT id, project, name, created_at, revoked_at FROM api_keys"
        with self._lock:
            if project is None:
                rows = self._db.execute(sql + " ORDER BY created_at, id").fetchall()
            else:
                rows = self._db.execute(sql + " WHERE project = ? ORDER BY created_at, id", (project,)).fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke_key(self, key_id: str) -> ApiKey | None:
        with self._transaction() as db:
            db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (iso(utcnow()), key_id),
            )
            row = db.execute(
                "SELECT id, project, name, created_at, revoked_at FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
        return ApiKey(*row) if row else None

    def projects(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT name FROM projects ORDER BY name")]

    # -- jobs ------------------------------------------------------------------------------

    def create_job(self, project: str, request: dict[str, Any]) -> Job:
        job = Job(
            id=new_job_id(),
            project=project,
            status=JobStatus.PENDING,
            request=request,
            created_at=iso(utcnow()),
        )
        with self._transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, project, status, request, created_at) VALUES (?, ?, ?, ?, ?)",
                (job.id, project, job.status, json.dumps(request), job.created_at),
            )
        return job

    def get_job(self, project: str, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ? AND project = ?", (job_id, project)
            ).fetchone()
        return _job(row) if row else None

    def claim_job(self, worker: str) -> Job | None:
        now = iso(utcnow())
        with self._transaction() as db:
            row = db.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = ? ORDER BY created_at, id LIMIT 1",
                (JobStatus.PENDING,),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET status = ?, worker = ?, started_at = ?, heartbeat_at = ? WHERE id = ?",
                (JobStatus.RUNNING, worker, now, now, row[0]),
            )
        job = _job(row)
        return Job(**{**job.__dict__, "status": JobStatus.RUNNING, "started_at": now})

    def heartbeat(self, worker: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET heartbeat_at = ? WHERE worker = ? AND status = ?",
                (iso(utcnow()), worker, JobStatus.RUNNING),
            )

    def finish_job(self, job_id: str, *, result: dict[str, Any] | None, error: dict[str, Any] | None) -> None:
        status = JobStatus.FAILED if error is not None else JobStatus.SUCCEEDED
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET status = ?, result = ?, error = ?, finished_at = ? WHERE id = ?",
                (
                    status,
                    json.dumps(result) if result is not None else None,
                    json.dumps(error) if error is not None else None,
                    iso(utcnow()),
                    job_id,
                ),
            )

    def fail_stale_jobs(self, older_than: timedelta) -> int:
        now = utcnow()
        error = INTERRUPTED_ERROR
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = ?, error = ?, finished_at = ? WHERE status = ? AND heartbeat_at < ?",
                (JobStatus.FAILED, json.dumps(error), iso(now), JobStatus.RUNNING, iso(now - older_than)),
            )
        return cursor.rowcount

    def prune_jobs(self, older_than: timedelta) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "DELETE FROM jobs WHERE status IN (?, ?) AND finished_at < ?",
                (JobStatus.SUCCEEDED, JobStatus.FAILED, iso(utcnow() - older_than)),
            )
        return cursor.rowcount

    def erase_jobs(self, project: str, scope: Mapping[str, str]) -> int:
        ids = job_scope(scope)
        where = " AND ".join(f"json_extract(request, '$.{key}') = ?" for key in ids)  # keys: SCOPE_KEYS only
        with self._transaction() as db:
            cursor = db.execute(f"DELETE FROM jobs WHERE project = ? AND {where}", (project, *ids.values()))
        if cursor.rowcount:  # secure_delete zeroed the rows in the file; the old pages leave the WAL too
            with self._lock:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return cursor.rowcount


_JOB_COLUMNS = "id, project, status, request, created_at, started_at, finished_at, result, error"


def _job(row: tuple[Any, ...]) -> Job:
    return Job(
        id=row[0],
        project=row[1],
        status=row[2],
        request=json.loads(row[3]),
        created_at=row[4],
        started_at=row[5],
        finished_at=row[6],
        result=json.loads(row[7]) if row[7] else None,
        error=json.loads(row[8]) if row[8] else None,
    )
