"""The server's keys, projects and jobs in PostgreSQL, for servers on many machines sharing one database.

Same behaviour as ``SQLiteServerStore``, in a schema of its own (``engram_server`` by default) created
by named, ordered migrations. Two things differ because several machines share the tables:

- every time is the database's clock (``now()``), so heartbeats written by one machine are judged
  stale by another without trusting that their clocks agree;
- a worker claims a job with ``FOR UPDATE SKIP LOCKED``: two workers never get the same job, and
  neither waits for the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any

from engram.errors import ConfigError
from engram.models import iso
from engram.server.store import (
    INTERRUPTED_ERROR,
    ApiKey,
    Job,
    JobStatus,
    check_project,
    hash_key,
    job_scope,
    new_job_id,
    new_key_id,
    new_key_secret,
)
from engram.storage.postgres_db import IDENTIFIER, migrate, open_pool, postgres_errors, redacted_url

# isort: split
# (postgres_db, imported first, says which extra to install when psycopg is missing)
import psycopg
from psycopg import sql
from psycopg.types.json import Json

DEFAULT_SERVER_SCHEMA = "engram_server"
DEFAULT_MAX_CONNECTIONS = 8  # job workers, the heartbeat and concurrent key checks
POOL_TIMEOUT_S = 30.0
SERVER_MIGRATION_LOCK_KEY = 0x656E6772616D73  # "engrams": one process migrates the server schema at a time


def _create_tables(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        """
        CREATE TABLE projects (name text PRIMARY KEY, created_at timestamptz NOT NULL);
        CREATE TABLE api_keys (
            id text PRIMARY KEY,
            hash text NOT NULL UNIQUE,
            project text NOT NULL REFERENCES projects (name),
            name text NOT NULL,
            created_at timestamptz NOT NULL,
            revoked_at timestamptz
        );
        CREATE INDEX api_keys_project ON api_keys (project, created_at);
        CREATE TABLE jobs (
            id text PRIMARY KEY,
            project text NOT NULL,
            status text NOT NULL,
            request json NOT NULL,
            result json,
            error json,
            worker text,
            created_at timestamptz NOT NULL,
            started_at timestamptz,
            finished_at timestamptz,
            heartbeat_at timestamptz
        );
        CREATE INDEX jobs_status ON jobs (status, created_at);
        CREATE INDEX jobs_worker ON jobs (worker) WHERE status = 'running';
        """
    )


MIGRATIONS: list[Callable[[psycopg.Connection[Any]], None]] = [_create_tables]
"""Append new migrations; never edit or reorder shipped ones."""

_KEY_COLUMNS = "id, project, name, created_at, revoked_at"
_JOB_COLUMNS = "id, project, status, request, created_at, started_at, finished_at, result, error"


class PostgresServerStore:
    """A ServerStore in one schema of a PostgreSQL database; every method is one transaction."""

    def __init__(
        self,
        url: str,
        *,
        schema: str = DEFAULT_SERVER_SCHEMA,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if not IDENTIFIER.match(schema):
            raise ConfigError(f"the server schema must be a plain SQL identifier, got {schema!r}")
        self.schema = schema
        self.location = redacted_url(url)
        with self._errors("connecting", self.location), psycopg.connect(url, autocommit=True) as conn:
            migrate(
                conn,
                schema=schema,
                migrations=MIGRATIONS,
                version_table="schema_version",
                lock_key=SERVER_MIGRATION_LOCK_KEY,
                writer="engram server",
                where=self.location,
            )
        self._pool = open_pool(
            url,
            name=f"engram-server:{self.location}",
            min_size=1,
            max_size=max_connections,
            timeout=POOL_TIMEOUT_S,
            configure=self._configure,
            location=self.location,
            what="the server database",
        )

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        conn.execute("SET TIME ZONE 'UTC'")
        conn.commit()

    @contextmanager
    def _transaction(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on a pooled connection: committed at the end, rolled back on an error."""
        with self._errors(action), self._pool.connection() as conn:
            yield conn

    def _errors(self, action: str, location: str | None = None) -> AbstractContextManager[None]:
        """psycopg's exceptions as engram's (``postgres_db.postgres_errors``)."""
        hint = "the server database is overloaded or unreachable"
        return postgres_errors(action, location=location, pool_hint=hint, what="the server database")

    def close(self) -> None:
        self._pool.close()

    # -- keys ------------------------------------------------------------------------------

    def create_key(self, project: str, name: str) -> tuple[ApiKey, str]:
        check_project(project)
        secret = new_key_secret()
        with self._transaction("creating a key") as conn:
            conn.execute(
                "INSERT INTO projects (name, created_at) VALUES (%s, now()) ON CONFLICT (name) DO NOTHING",
                (project,),
            )
            row = conn.execute(
                f"INSERT INTO api_keys (id, hash, project, name, created_at) VALUES (%s, %s, %s, %s, now()) "
                f"RETURNING {_KEY_COLUMNS}",
                (new_key_id(), hash_key(secret), project, name),
            ).fetchone()
        assert row is not None
        return _key(row), secret

    def authenticate(self, secret: str) -> ApiKey | None:
        with self._transaction("checking a key") as conn:
            row = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE hash = %s AND revoked_at IS NULL", (hash_key(secret),)
            ).fetchone()
        return _key(row) if row else None

    def list_keys(self, project: str | None = None) -> list[ApiKey]:
        with self._transaction("listing keys") as conn:
            rows = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE %(project)s::text IS NULL OR project = %(project)s "
                "ORDER BY created_at, id",
                {"project": project},
            ).fetchall()
        return [_key(row) for row in rows]

    def revoke_key(self, key_id: str) -> ApiKey | None:
        with self._transaction("revoking a key") as conn:
            conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (key_id,))
            row = conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = %s", (key_id,)).fetchone()
        return _key(row) if row else None

    def projects(self) -> list[str]:
        with self._transaction("listing projects") as conn:
            return [str(row[0]) for row in conn.execute("SELECT name FROM projects ORDER BY name")]

    # -- jobs ------------------------------------------------------------------------------

    def create_job(self, project: str, request: dict[str, Any]) -> Job:
        with self._transaction("queueing a job") as conn:
            row = conn.execute(
                f"INSERT INTO jobs (id, project, status, request, created_at) VALUES (%s, %s, %s, %s, now()) "
                f"RETURNING {_JOB_COLUMNS}",
                (new_job_id(), project, JobStatus.PENDING, Json(request)),
            ).fetchone()
        assert row is not None
        return _job(row)

    def get_job(self, project: str, job_id: str) -> Job | None:
        with self._transaction("reading a job") as conn:
            row = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = %s AND project = %s", (job_id, project)
            ).fetchone()
        return _job(row) if row else None

    def claim_job(self, worker: str) -> Job | None:
        with self._transaction("claiming a job") as conn:
            row = conn.execute(
                "UPDATE jobs SET status = %s, worker = %s, started_at = now(), heartbeat_at = now() "
                "WHERE id = (SELECT id FROM jobs WHERE status = %s ORDER BY created_at, id "
                "FOR UPDATE SKIP LOCKED LIMIT 1) "
                f"RETURNING {_JOB_COLUMNS}",
                (JobStatus.RUNNING, worker, JobStatus.PENDING),
            ).fetchone()
        return _job(row) if row else None

    def heartbeat(self, worker: str) -> None:
        with self._transaction("recording a heartbeat") as conn:
            conn.execute(
                "UPDATE jobs SET heartbeat_at = now() WHERE worker = %s AND status = %s",
                (worker, JobStatus.RUNNING),
            )

    def finish_job(self, job_id: str, *, result: dict[str, Any] | None, error: dict[str, Any] | None) -> None:
        status = JobStatus.FAILED if error is not None else JobStatus.SUCCEEDED
        with self._transaction("finishing a job") as conn:
            conn.execute(
                "UPDATE jobs SET status = %s, result = %s, error = %s, finished_at = now() WHERE id = %s",
                (
                    status,
                    Json(result) if result is not None else None,
                    Json(error) if error is not None else None,
                    job_id,
                ),
            )

    def fail_stale_jobs(self, older_than: timedelta) -> int:
        with self._transaction("failing interrupted jobs") as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = %s, error = %s, finished_at = now() "
                "WHERE status = %s AND heartbeat_at < now() - %s",
                (JobStatus.FAILED, Json(INTERRUPTED_ERROR), JobStatus.RUNNING, older_than),
            )
        return cursor.rowcount

    def prune_jobs(self, older_than: timedelta) -> int:
        with self._transaction("pruning finished jobs") as conn:
            cursor = conn.execute(
                "DELETE FROM jobs WHERE status IN (%s, %s) AND finished_at < now() - %s",
                (JobStatus.SUCCEEDED, JobStatus.FAILED, older_than),
            )
        return cursor.rowcount

    def erase_jobs(self, project: str, scope: Mapping[str, str]) -> int:
        ids = job_scope(scope)
        where = " AND ".join(f"request->>'{key}' = %s" for key in ids)  # keys: SCOPE_KEYS only
        with self._transaction("erasing a scope's jobs") as conn:
            cursor = conn.execute(f"DELETE FROM jobs WHERE project = %s AND {where}", (project, *ids.values()))
        return cursor.rowcount


def _time(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


def _key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(id=row[0], project=row[1], name=row[2], created_at=iso(row[3]), revoked_at=_time(row[4]))


def _job(row: tuple[Any, ...]) -> Job:
    return Job(
        id=row[0],
        project=row[1],
        status=row[2],
        request=row[3],
        created_at=iso(row[4]),
        started_at=_time(row[5]),
        finished_at=_time(row[6]),
        result=row[7],
        error=row[8],
    )
