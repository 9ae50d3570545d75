"""Scheduled pruning: with ``prune_interval_s`` set, a server runs ``Memory.prune()`` on every
project that often (expired memories, and history older than the config's ``retention_days``).

Pruning is idempotent, so several server processes sharing a database may each run it; the
work of the second one is just a few empty deletes.
"""

from __future__ import annotations

import logging
import threading

from engram.errors import EngramError
from engram.server.projects import ProjectMemories
from engram.server.store import ServerStore

logger = logging.getLogger("engram.server.prune")


class PruneSchedule:
    def __init__(self, store: ServerStore, memories: ProjectMemories, *, interval_s: float | None) -> None:
        self.store = store
        self.memories = memories
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0  # completed passes over every project, for tests and logs

    def start(self) -> None:
        if self.interval_s is None:
            return
        self._thread = threading.Thread(target=self._loop, name="engram-prune", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def prune_all(self) -> dict[str, dict[str, int]]:
        """One pass over every project; a project that fails is logged and the others still run."""
        removed: dict[str, dict[str, int]] = {}
        for project in self.store.projects():
            try:
                with self.memories.lease(project) as memory:
                    removed[project] = memory.prune()
            except EngramError as exc:
                logger.warning("pruning project %s failed: %s", project, exc)
        self.runs += 1
        return removed

    def _loop(self) -> None:
        assert self.interval_s is not None
        while not self._stop.wait(self.interval_s):
            removed = self.prune_all()
            total = sum(sum(counts.values()) for counts in removed.values())
            if total:
                logger.info("pruned %d rows across %d projects", total, len(removed))
