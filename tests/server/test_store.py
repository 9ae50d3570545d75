"""The server's own store: keys, and jobs as a queue that several processes can share.

Every test runs on ``SQLiteServerStore`` and on ``PostgresServerStore``: one contract, two stores.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from engram.errors import StorageError, ValidationError
from engram.server.store import JobStatus, ServerStore, SQLiteServerStore
from engram.server.store_postgres import PostgresServerStore

StoreOpener = Callable[[], ServerStore]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreOpener]:
    """Opens the store under test on one database: each call is another "process" sharing it."""
    opened: list[ServerStore] = []
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        schema = "t" + uuid.uuid4().hex[:10] + "_server"

        def make() -> ServerStore:
            opened.append(PostgresServerStore(url, schema=schema))
            return opened[-1]
    else:

        def make() -> ServerStore:
            opened.append(SQLiteServerStore(tmp_path / "server.db"))
            return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: StoreOpener) -> ServerStore:
    return open_store()


def test_a_key_authenticates_until_revoked(store: ServerStore) -> None:
    key, secret = store.create_key("shop", "web")
    assert store.authenticate(secret) == key
    assert store.authenticate(secret + "x") is None
    store.revoke_key(key.id)
    assert store.authenticate(secret) is None
    assert store.revoke_key("key_unknown") is None


def test_projects_are_created_with_their_first_key(store: ServerStore) -> None:
    store.create_key("b-shop", "")
    store.create_key("a-blog", "")
    store.create_key("a-blog", "second")
    assert store.projects() == ["a-blog", "b-shop"]
    with pytest.raises(ValidationError):
        store.create_key("Not Valid", "")


def test_each_job_is_claimed_once_oldest_first(open_store: StoreOpener, store: ServerStore) -> None:
    first = store.create_job("p", {"n": 1})
    second = store.create_job("p", {"n": 2})
    other_process = open_store()
    claimed = [store.claim_job("w1"), other_process.claim_job("w2"), store.claim_job("w1")]
    assert [job.id if job else None for job in claimed] == [first.id, second.id, None]
    assert all(job is not None and job.status == JobStatus.RUNNING for job in claimed[:2])


def test_jobs_are_visible_only_to_their_project(store: ServerStore) -> None:
    job = store.create_job("p", {})
    assert store.get_job("p", job.id) is not None
    assert store.get_job("q", job.id) is None


def test_a_beating_job_is_not_stale_and_a_silent_one_is(store: ServerStore) -> None:
    job = store.create_job("p", {})
    store.claim_job("w1")
    store.heartbeat("w1")
    assert store.fail_stale_jobs(timedelta(seconds=60)) == 0
    assert store.fail_stale_jobs(timedelta(seconds=-1)) == 1
    failed = store.get_job("p", job.id)
    assert failed is not None and failed.error is not None
    assert (failed.status, failed.error["code"]) == (JobStatus.FAILED, "job_interrupted")


def test_finished_jobs_are_pruned_after_the_retention(store: ServerStore) -> None:
    done = store.create_job("p", {})
    store.claim_job("w1")
    store.finish_job(done.id, result={"results": []}, error=None)
    waiting = store.create_job("p", {})
    assert store.prune_jobs(timedelta(days=1)) == 0
    assert store.prune_jobs(timedelta(seconds=-1)) == 1
    assert store.get_job("p", done.id) is None
    assert store.get_job("p", waiting.id) is not None


def test_erasing_a_scope_deletes_its_jobs_of_every_status_in_its_project_only(store: ServerStore) -> None:
    alice = store.create_job("shop", {"messages": "alice's words", "user_id": "alice"})
    done = store.create_job("shop", {"messages": "more", "user_id": "alice", "agent_id": "bot"})
    store.claim_job("w1")
    store.finish_job(alice.id, result={"results": [{"memory": "alice's words"}]}, error=None)
    kept = [
        store.create_job("shop", {"messages": "bob's words", "user_id": "bob"}),
        store.create_job("other", {"messages": "another project's alice", "user_id": "alice"}),
        store.create_job("shop", {"messages": "the bot's own", "agent_id": "bot"}),
    ]
    assert store.erase_jobs("shop", {"user_id": "alice"}) == 2
    assert store.get_job("shop", alice.id) is None and store.get_job("shop", done.id) is None
    assert [store.get_job(job.project, job.id) is not None for job in kept] == [True, True, True]
    assert store.erase_jobs("shop", {"agent_id": "bot", "run_id": "r1"}) == 0
    with pytest.raises(ValidationError, match="a scope is required"):
        store.erase_jobs("shop", {})


def test_keys_and_jobs_are_shared_by_every_process_on_the_database(open_store: StoreOpener) -> None:
    one, other = open_store(), open_store()
    key, secret = one.create_key("shop", "web")
    job = one.create_job("shop", {"messages": "hi"})
    assert other.authenticate(secret) == key
    assert other.list_keys("shop") == [key]
    shared = other.get_job("shop", job.id)
    assert shared is not None and shared.request == {"messages": "hi"}
    other.revoke_key(key.id)
    assert one.authenticate(secret) is None


def test_a_job_keeps_its_request_result_and_times(store: ServerStore) -> None:
    job = store.create_job("p", {"messages": [{"role": "user", "content": "é"}], "infer": False})
    claimed = store.claim_job("w1")
    assert claimed is not None and claimed.request == job.request and claimed.started_at is not None
    store.finish_job(job.id, result={"results": [{"id": "m1", "event": "ADD"}]}, error=None)
    done = store.get_job("p", job.id)
    assert done is not None and done.status == JobStatus.SUCCEEDED
    assert done.result == {"results": [{"id": "m1", "event": "ADD"}]}
    assert done.created_at <= done.started_at <= done.finished_at  # type: ignore[operator]


def test_a_server_schema_from_a_newer_engram_is_refused(open_store: StoreOpener, store: ServerStore) -> None:
    if isinstance(store, PostgresServerStore):
        with store._pool.connection() as conn:
            conn.execute("INSERT INTO schema_version (version, name) VALUES (99, 'future')")
    else:
        assert isinstance(store, SQLiteServerStore)
        store._db.execute("PRAGMA user_version = 99")
    with pytest.raises(StorageError, match="newer engram server"):
        open_store()


def test_workers_claiming_at_once_run_every_job_exactly_once(open_store: StoreOpener, store: ServerStore) -> None:
    queued = {store.create_job("p", {"n": n}).id for n in range(40)}
    processes = [open_store() for _ in range(4)]
    claimed: list[str] = []

    def work(process: ServerStore, worker: str) -> None:
        while (job := process.claim_job(worker)) is not None:
            claimed.append(job.id)

    threads = [threading.Thread(target=work, args=(p, f"w{i}")) for i, p in enumerate(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(claimed) == sorted(queued)
