"""The PostgreSQL plumbing shared by the memory store and the server's key and job store.

- ``migrate``: a schema of its own, created when missing, and named, ordered migration
  functions recorded one row each in a version table; several processes starting at once take
  turns (an advisory lock), so the first migrates and the others find it done;
- ``open_pool``: a psycopg connection pool, open and ready, or a StorageError saying why not;
- ``postgres_errors``: psycopg's exceptions as engram's. A value PostgreSQL refuses is a
  ``ValidationError``; anything else is a ``StorageError`` whose message never holds
  connection details (user, host, socket path, database): clients of the server see these
  messages. The details go to the ``engram.storage`` log and stay on the exception's
  ``__cause__``. Only while connecting at start (``location`` given) does the message say where.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from engram.errors import ConfigError, StorageError, ValidationError

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ConfigError("PostgreSQL needs psycopg 3 and psycopg-pool: pip install 'engramdb[postgres]'") from exc

logger = logging.getLogger("engram.storage")

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

Migration = Callable[[psycopg.Connection[Any]], None]


def redacted_url(url: str) -> str:
    """The URL without its password, for the operator's messages and logs."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"invalid PostgreSQL URL: {exc}") from exc
    if "password" in params:
        params["password"] = "***"
    host, dbname = params.get("host", "localhost"), params.get("dbname", "")
    return f"postgresql://{params.get('user', '')}@{host}:{params.get('port', 5432)}/{dbname}"


@contextmanager
def postgres_errors(
    action: str, *, location: str | None = None, pool_hint: str = "", what: str = "PostgreSQL"
) -> Iterator[None]:
    """Turn psycopg's exceptions raised while doing ``action`` into engram's (see the module doc).

    ``what`` names the database in messages ("the server database" for the key and job store).
    """
    at = f" at {location}" if location else ""
    try:
        yield
    except UnicodeEncodeError as exc:  # a lone surrogate in a value: not text PostgreSQL can store
        raise ValidationError(f"a value is not valid Unicode text ({exc.reason}): fix how it was decoded") from exc
    except PoolTimeout as exc:
        logger.warning("no free PostgreSQL connection while %s: %s", action, exc)
        raise StorageError(f"no free connection to {what}{at} while {action}: {pool_hint}".rstrip(": ")) from exc
    except pg_errors.InsufficientPrivilege as exc:
        raise StorageError(
            f"PostgreSQL{at} refused {action}: {_server_message(exc)}. The user needs CREATE on the database "
            "(and an administrator must run CREATE EXTENSION vector once if the user cannot)"
        ) from exc
    except (pg_errors.UndefinedFile, pg_errors.FeatureNotSupported) as exc:
        raise StorageError(
            f"PostgreSQL{at} lacks the pgvector extension ({_server_message(exc)}): install pgvector 0.8 or "
            "newer on the server, or use a managed PostgreSQL that offers it"
        ) from exc
    except (psycopg.DataError, pg_errors.ProgramLimitExceeded) as exc:
        raise ValidationError(
            f"PostgreSQL cannot store or compare a value of this call: {_server_message(exc)}"
        ) from exc
    except psycopg.OperationalError as exc:
        logger.warning("PostgreSQL unreachable%s while %s: %s", at, action, exc)
        if location:  # at start, for the operator: where, and what the driver said
            raise StorageError(
                f"cannot reach {what}{at} while {action}: {exc}. Check the URL, that the "
                "server runs and accepts connections from this host"
            ) from exc
        raise StorageError(
            f"cannot reach {what} while {action} (the details are in this process's log): retry later"
        ) from exc
    except psycopg.Error as exc:
        logger.warning("PostgreSQL failed%s while %s: %s", at, action, exc)
        raise StorageError(f"{what}{at} failed while {action}: {_server_message(exc)}") from exc


def _server_message(exc: psycopg.Error) -> str:
    """What the server said (never the driver's connection text), with its SQLSTATE."""
    diag = exc.diag
    message = diag.message_primary or type(exc).__name__
    return f"{message} (SQLSTATE {diag.sqlstate})" if diag.sqlstate else message


def migrate(
    conn: psycopg.Connection[Any],
    *,
    schema: str,
    migrations: Sequence[Migration],
    version_table: str,
    lock_key: int,
    writer: str,
    where: str,
    before: Callable[[psycopg.Connection[Any]], Sequence[str]] = lambda conn: (),
) -> list[str]:
    """Create or upgrade ``schema`` in one transaction; returns what ``before`` returned.

    ``before`` runs first under the lock (the memory store installs pgvector there) and returns the
    schemas to search after ``schema`` (where pgvector's types live).
    """
    if not IDENTIFIER.match(schema):
        raise ConfigError(f"schema must be a plain SQL identifier, got {schema!r}")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
        also_search = list(before(conn))
        # Only when missing: CREATE SCHEMA checks the CREATE privilege even with IF NOT EXISTS.
        if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        path = sql.SQL(", ").join(sql.Identifier(name) for name in [schema, *also_search])
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(path))
        table = sql.Identifier(version_table)
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, name text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(table)
        )
        row = conn.execute(sql.SQL("SELECT coalesce(max(version), 0) FROM {}").format(table)).fetchone()
        version = int(row[0]) if row else 0
        if version > len(migrations):
            raise StorageError(
                f"schema {schema!r} at {where} was written by a newer {writer} (schema {version}, this one "
                f"knows {len(migrations)}): upgrade engram to use it."
            )
        for number, migration in enumerate(migrations[version:], start=version + 1):
            migration(conn)
            conn.execute(
                sql.SQL("INSERT INTO {} (version, name) VALUES (%s, %s)").format(table),
                (number, migration.__name__.lstrip("_")),
            )
    return also_search


def open_pool(
    url: str,
    *,
    name: str,
    min_size: int,
    max_size: int,
    timeout: float,
    configure: Callable[[psycopg.Connection[Any]], None],
    location: str,
    what: str = "PostgreSQL",
    **kwargs: Any,
) -> ConnectionPool[Any]:
    """A pool with ``min_size`` connections open, each prepared by ``configure``."""
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        configure=configure,
        kwargs=kwargs or None,
        open=False,
        name=name,
    )
    with postgres_errors("opening the connection pool", location=location, what=what):
        pool.open(wait=True, timeout=timeout)
    return pool


__all__ = ["IDENTIFIER", "Migration", "migrate", "open_pool", "postgres_errors", "redacted_url"]
