"""The arguments of the verbs, checked and turned into engram's own types before any work starts.

Every check raises a ``ValidationError`` that names the argument and says what to pass instead.
Strings that no store can hold (a lone surrogate, a NUL) are refused earlier, by
``validation.check_input`` on each verb.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from engram.errors import ValidationError
from engram.models import IDENTITY_KEYS, SCOPE_KEYS, Scope, utcnow
from engram.storage.base import Query
from engram.storage.filters import Filter, check_metadata_key, normalise_time, parse_filters, scope_equalities

MAX_LIMIT = 10_000
MAX_OFFSET = 2**53  # beyond any store, and within what SQLite and PostgreSQL take as a 64-bit integer
MAX_DAYS = 3_650_000  # a retention of ten thousand years: any more overflows a date


def check_id(name: str, value: Any) -> str | None:
    """A scope id (``user_id``, ...): None, or a non-blank string."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(f"{name} must not be empty or whitespace")
    return value


def owner_scope(user_id: Any, agent_id: Any, run_id: Any) -> Scope:
    """The owner ids of a lifecycle verb (stats, export, consolidate): each checked, any may be None."""
    given = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id}
    return Scope(**{key: check_id(key, value) for key, value in given.items()})


def scope_from(
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    actor_id: str | None,
    filters: Mapping[str, Any] | None,
) -> tuple[Scope, Filter | None]:
    """The scope of a call, from keywords or from scope ids inside ``filters``; at least one owner."""
    given = {"user_id": user_id, "agent_id": agent_id, "run_id": run_id, "actor_id": actor_id}
    ids = {key: check_id(key, value) for key, value in given.items()}
    tree = parse_filters(filters)
    for key, value in scope_equalities(tree).items():
        value = check_id(key, value)
        if ids[key] is not None and ids[key] != value:
            raise ValidationError(f"{key} is {ids[key]!r} but filters say {value!r}: give one")
        ids[key] = value
    if not any(ids[key] for key in SCOPE_KEYS):
        raise ValidationError(
            "a scope is required: pass at least one of user_id, agent_id or run_id (as a keyword, or inside filters)"
        )
    return Scope(**ids), tree


def memory_id_of(memory_id: Any) -> str:
    if not isinstance(memory_id, str) or not memory_id.strip():
        raise ValidationError(f"memory_id must be a non-empty string, got {memory_id!r}")
    return memory_id


def user_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The caller's metadata minus identity keys, which never change a memory's scope."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ValidationError(f"metadata must be a dict, got {type(metadata).__name__}")
    clean = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise ValidationError(f"metadata keys must be strings, got {key!r}")
        check_metadata_key(key)
        if key not in IDENTITY_KEYS:
            clean[key] = value
    try:
        json.dumps(clean, allow_nan=False)  # NaN and Infinity are not JSON: no store could filter on them
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"metadata must be JSON-serialisable (no NaN or Infinity): {exc}") from exc
    return clean


def check_limit(value: Any, name: str = "limit") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ValidationError(f"{name} must be an integer from 1 to {MAX_LIMIT}, got {value!r}")
    return value


def check_count(value: Any, name: str, maximum: int) -> int:
    """A whole number from 0 to ``maximum`` (``episodes=``, ``offset=``)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValidationError(f"{name} must be a whole number from 0 to {maximum}, got {value!r}")
    return value


def check_threshold(value: Any) -> float | None:
    if value is not None and not isinstance(value, int | float):
        raise ValidationError(f"threshold must be a number, got {value!r}")
    return value


def check_retention(days: Any) -> float | None:
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int | float) or not 0 <= days <= MAX_DAYS:
        raise ValidationError(f"retention_days must be a number of days from 0 to {MAX_DAYS:,}, got {days!r}")
    return float(days)


def parse_timestamp(value: datetime | date | str | float) -> datetime:
    """When a conversation happened: a datetime (UTC when naive), an ISO string or a Unix time."""
    if isinstance(value, bool):
        raise ValidationError(f"timestamp must be a datetime, ISO string or Unix time, got {value!r}")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValidationError(f"timestamp {value!r} is not a valid Unix time") from exc
    return datetime.fromisoformat(normalise_time(value, what="timestamp"))


def parse_as_of(value: datetime | date | str) -> datetime:
    """A datetime is that moment (UTC when naive); a date is the end of that day (UTC)."""
    value = _bare_date(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(days=1, microseconds=-1)
    if not isinstance(value, datetime | str):
        raise ValidationError(f"as_of must be a datetime, a date or an ISO 8601 string, got {value!r}")
    return datetime.fromisoformat(normalise_time(value, what="as_of"))


def parse_expiration(value: datetime | date | str) -> datetime:
    """A date expires at the end of that day (UTC); a datetime at that moment."""
    value = _bare_date(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        if value == date.max:  # the end of 9999-12-31 is the last moment a datetime can hold
            return datetime.max.replace(tzinfo=UTC)
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + timedelta(days=1)
    return datetime.fromisoformat(normalise_time(value, what="expiration_date"))


def _bare_date(value: Any) -> Any:
    """``"2024-05-01"`` as a date; anything else as it is (parsed as a datetime by the caller)."""
    if isinstance(value, str) and len(value.strip()) == 10:
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value.strip())
    return value


def read_query(scope: Scope, tree: Filter | None, as_of: datetime | date | str | None) -> Query:
    """What a read sees: current facts (unexpired now), or the versions valid (and unexpired) at ``as_of``."""
    if as_of is None:
        return Query(scope, tree, utcnow())
    moment = parse_as_of(as_of)
    return Query(scope, tree, moment, as_of=moment)


__all__ = [
    "MAX_DAYS",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "check_count",
    "check_id",
    "check_limit",
    "check_retention",
    "check_threshold",
    "memory_id_of",
    "owner_scope",
    "parse_as_of",
    "parse_expiration",
    "parse_timestamp",
    "read_query",
    "scope_from",
    "user_metadata",
]
