"""The server's own store: keys, and jobs as a queue that several processes can share."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engram.errors import ValidationError
from engram.server.store import JobStatus, SQLiteServerStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteServerStore]:
    opened = SQLiteServerStore(tmp_path / "server.db")
    yield opened
    opened.close()


def test_a_key_authenticates_until_revoked(store: SQLiteServerStore) -> None:
    key, secret = store.create_key("shop", "web")
    assert store.authenticate(secret) == key
    assert store.authenticate(secret + "x") is None
    store.revoke_key(key.id)
    assert store.authenticate(secret) is None
    assert store.revoke_key("key_unknown") is None


def test_projects_are_created_with_their_first_key(store: SQLiteServerStore) -> None:
    store.create_key("b-shop", "")
    store.create_key("a-blog", "")
    store.create_key("a-blog", "second")
    assert store.projects() == ["a-blog", "b-shop"]
    with pytest.raises(ValidationError):
        store.create_key("Not Valid", "")


def test_each_job_is_claimed_once_oldest_first(tmp_path: Path, store: SQLiteServerStore) -> None:
    first = store.create_job("p", {"n": 1})
    second = store.create_job("p", {"n": 2})
    other_process = SQLiteServerStore(tmp_path / "server.db")
    claimed = [store.claim_job("w1"), other_process.claim_job("w2"), store.claim_job("w1")]
    other_process.close()
    assert [job.id if job else None for job in claimed] == [first.id, second.id, None]
    assert all(job is not None and job.status == JobStatus.RUNNING for job in claimed[:2])


def test_jobs_are_visible_only_to_their_project(store: SQLiteServerStore) -> None:
    job = store.create_job("p", {})
    assert store.get_job("p", job.id) is not None
    assert store.get_job("q", job.id) is None


def test_a_beating_job_is_not_stale_and_a_silent_one_is(store: SQLiteServerStore) -> None:
    job = store.create_job("p", {})
    store.claim_job("w1")
    store.heartbeat("w1")
    assert store.fail_stale_jobs(timedelta(seconds=60)) == 0
    assert store.fail_stale_jobs(timedelta(seconds=-1)) == 1
    failed = store.get_job("p", job.id)
    assert failed is not None and failed.error is not None
    assert (failed.status, failed.error["code"]) == (JobStatus.FAILED, "job_interrupted")


def test_finished_jobs_are_pruned_after_the_retention(store: SQLiteServerStore) -> None:
    done = store.create_job("p", {})
    store.claim_job("w1")
    store.finish_job(done.id, result={"results": []}, error=None)
    waiting = store.create_job("p", {})
    assert store.prune_jobs(timedelta(days=1)) == 0
    assert store.prune_jobs(timedelta(seconds=-1)) == 1
    assert store.get_job("p", done.id) is None
    assert store.get_job("p", waiting.id) is not None
