"""Add jobs: ``POST /v1/memories`` with ``async_mode`` answers 202 at once and adds later.

The database is the queue. A job is written as ``pending``; worker threads of
any server process sharing the database claim the oldest pending job in one
transaction, run ``Memory.add`` and write the result or the error. So a job
outlives the process that accepted it:

- a **pending** job is picked up when any server (this one restarted, or
  another) runs again;
- a **running** job whose server stopped is marked ``failed`` with the code
  ``job_interrupted`` once its worker has missed heartbeats for
  ``job_stale_after_s``: we cannot know whether its one write transaction
  committed, so we do not run it twice behind the caller's back.

Finished jobs are deleted ``job_retention_s`` (a week by default) after they finish.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta
from typing import Any

from engram.errors import EngramError, StorageError
from engram.pipeline.screen import screen_add_request
from engram.privacy.screening import PrivacyConfig, merge_counts, redaction_report
from engram.results import AddResult
from engram.server.errors import error_body, status_of
from engram.server.projects import ProjectMemories
from engram.server.store import Job, ServerStore

logger = logging.getLogger("engram.server.jobs")
REDACTED = "_redacted"  # in a queued request: the redaction counts of its screening, for the job's result


def _counts(result: AddResult) -> dict[str, int]:
    return {item["category"]: item["count"] for item in result.get("redactions", [])}


class JobRunner:
    def __init__(
        self,
        store: ServerStore,
        memories: ProjectMemories,
        *,
        workers: int,
        poll_s: float,
        stale_after_s: float,
        retention_s: float = 7 * 24 * 3600,
    ) -> None:
        self.store = store
        self.memories = memories
        self.worker_id = "worker_" + uuid.uuid4().hex[:12]
        self.workers = workers
        self.poll_s = poll_s
        self.stale_after = timedelta(seconds=stale_after_s)
        self.retention = timedelta(seconds=retention_s)
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.store.fail_stale_jobs(self.stale_after)
        names = [f"engram-job-{i}" for i in range(self.workers)]
        self._threads = [threading.Thread(target=self._work, name=n, daemon=True) for n in names]
        self._threads.append(threading.Thread(target=self._beat, name="engram-job-heartbeat", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def submit(self, project: str, request: dict[str, Any], privacy: PrivacyConfig) -> Job:
        """Queue an add, its text screened first: the queue keeps the request until it runs, and must not
        keep what the store would not (``pipeline.screen.screen_add_request``)."""
        screened, redacted = screen_add_request(request, privacy)
        job = self.store.create_job(project, {**screened, REDACTED: redacted} if redacted else screened)
        with self._wake:
            self._wake.notify()
        return job

    def _work(self) -> None:
        while not self._stop.is_set():
            job = self.store.claim_job(self.worker_id)
            if job is None:
                with self._wake:
                    self._wake.wait(self.poll_s)
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        try:
            request = dict(job.request)
            redacted = request.pop(REDACTED, {})  # what screening took out when the job was queued
            with self.memories.lease(job.project) as memory:
                result = memory.add(**request)
            if redacted:
                result["redactions"] = redaction_report(merge_counts(redacted, _counts(result)))
        except EngramError as exc:
            code = status_of(exc)[1]
            self.store.finish_job(job.id, result=None, error=error_body(code, str(exc))["error"])
        except Exception as exc:  # a bug: record it on the job instead of killing the worker
            logger.exception("job %s failed with a bug", job.id)
            error = error_body("internal_error", f"{type(exc).__name__}: {exc}")["error"]
            self.store.finish_job(job.id, result=None, error=error)
        else:
            self.store.finish_job(job.id, result=dict(result), error=None)

    def _beat(self) -> None:
        interval = max(0.05, min(5.0, self.stale_after.total_seconds() / 3))
        while not self._stop.wait(interval):
            try:
                self.store.heartbeat(self.worker_id)
                if failed := self.store.fail_stale_jobs(self.stale_after):
                    logger.warning("marked %d interrupted job(s) as failed", failed)
                self.store.prune_jobs(self.retention)  # results are fetched within minutes; keep a week
            except StorageError as exc:  # the database is back next beat, or the requests say so
                logger.warning("job heartbeat failed: %s", exc)
