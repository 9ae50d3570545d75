"""``prune``: what a store no longer needs to keep.

Expired memories are always deleted. With a retention, so is what stopped being true before then
(earlier versions, retracted memories) and history written before then. Without one, the past is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engram.models import Event, utcnow
from engram.pipeline.plan import history_row
from engram.storage.base import Store

NOTHING_OUTDATED = {"versions": 0, "retracted_memories": 0, "history_rows": 0}
EARLIEST = datetime.min.replace(tzinfo=UTC)


def prune(store: Store, retention_days: float | None) -> dict[str, int]:
    """Delete in one transaction; returns how much of each was removed."""
    now = utcnow()
    with store.transaction():
        expired = store.delete_expired(now)
        store.add_history([history_row(Event.DELETE, record, None, now, deleted=True) for record in expired])
        outdated = (
            store.delete_outdated(retention_start(now, retention_days))
            if retention_days is not None
            else dict(NOTHING_OUTDATED)
        )
    return {"expired_memories": len(expired), **outdated}


def retention_start(now: datetime, retention_days: float) -> datetime:
    """The moment ``retention_days`` before ``now``; a retention reaching before year 1 keeps everything."""
    if retention_days >= (now - EARLIEST) / timedelta(days=1):
        return EARLIEST
    return now - timedelta(days=retention_days)


__all__ = ["prune", "retention_start"]
