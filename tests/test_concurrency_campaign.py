"""The concurrency campaign (bench/bench_campaign.py): its judge, and a short run on each store.

The judge's tests are quick and show what each count catches. The runs are marked slow (excluded
by default; ``pytest -m slow``): several processes, each with its own Memory (or, through the
server, its own HTTP client), share one store for a few seconds; nothing may be lost, no scope
may touch another, no call may raise anything but an engram error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _bench() -> ModuleType:
    """bench/bench_campaign.py, importable by name (the processes it spawns import it so)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    return importlib.import_module("bench_campaign")


bench = _bench()


def _added(memory_id: str, tag: str, text: str) -> dict[str, Any]:
    """An acknowledged add, from time 0 to 1."""
    return {"op": "add", "scope": tag, "outcome": "ok", "start": 0.0, "end": 1.0, "events": [("ADD", memory_id, text)]}


def _truth(memories: dict[str, tuple[str, str | None, bool]], history: list[Any] | None = None) -> Any:
    return bench.Truth(memories, history or [], linked=set(memories))


def test_the_judge_counts_an_add_that_no_delete_explains() -> None:
    counts = bench.judge([_added("m1", "u0", "u0 likes tea")], [], _truth({}))
    assert counts["adds gone (lost)"] == 1


def test_the_judge_counts_an_add_only_another_scopes_wipe_explains_as_cross_scope() -> None:
    wipe = {"op": "delete_all", "scope": "u1", "outcome": "ok", "start": 5.0, "end": 6.0}
    counts = bench.judge([_added("m1", "u0", "u0 likes tea"), wipe], [], _truth({}))
    assert counts["adds gone (cross-scope)"] == 1 and counts["adds gone (lost)"] == 0


def test_the_judge_accepts_an_add_its_own_scopes_wipe_explains() -> None:
    wipe = {"op": "delete_all", "scope": "u0", "outcome": "ok", "start": 5.0, "end": 6.0}
    counts = bench.judge([_added("m1", "u0", "u0 likes tea"), wipe], [], _truth({}))
    assert sum(counts[key] for key in bench.HEADLINE) == 0


def test_the_judge_counts_an_update_no_later_write_explains() -> None:
    update = {"op": "update", "scope": "u0", "outcome": "ok", "start": 5.0, "end": 6.0}
    update |= {"id": "m1", "text": "u0 now prefers coffee", "timed": "none"}
    truth = _truth({"m1": ("u0 likes tea", "u0", True)})
    counts = bench.judge([_added("m1", "u0", "u0 likes tea"), update], [], truth)
    assert counts["updates lost"] == 1


def test_the_judge_counts_a_memory_holding_another_scopes_text() -> None:
    truth = _truth({"m1": ("u1 now prefers coffee", "u0", True)})
    counts = bench.judge([_added("m1", "u0", "u0 likes tea")], [], truth)
    assert counts["cross-scope: memory of another scope"] == 1


def test_the_judge_counts_a_replaced_text_that_came_back() -> None:
    history = [
        ("m1", "ADD", None, "u0 a", "u0"),
        ("m1", "UPDATE", "u0 a", "u0 b", "u0"),
        ("m1", "UPDATE", "u0 b", "u0 a", "u0"),
    ]
    counts = bench.judge([_added("m1", "u0", "u0 a")], [], _truth({"m1": ("u0 a", "u0", True)}, history))
    assert counts["stale overwrites (a replaced text came back)"] == 1


def test_the_judge_counts_a_read_of_another_scope() -> None:
    read = {"op": "get_all", "scope": "u0", "outcome": "ok", "start": 0, "end": 1, "bad_scope": ["m9"]}
    counts = bench.judge([read], [], _truth({}))
    assert counts["cross-scope: reads returning another scope's memory"] == 1


def test_the_judge_counts_a_memory_no_acknowledged_add_created() -> None:
    counts = bench.judge([], [], _truth({"m1": ("u0 likes tea", "u0", True)}))
    assert counts["phantom memories"] == 1


def test_the_judge_counts_a_live_memory_whose_history_was_erased() -> None:
    truth = _truth({"m1": ("u0 likes tea", "u0", True)}, [("m1", "ADD", None, None, None)])
    counts = bench.judge([_added("m1", "u0", "u0 likes tea")], [], truth)
    assert counts["live memories whose history was erased"] == 1


def test_the_judge_counts_a_live_memory_without_its_episodes() -> None:
    truth = bench.Truth({"m1": ("u0 likes tea", "u0", True)}, [], linked=set())
    counts = bench.judge([_added("m1", "u0", "u0 likes tea")], [], truth)
    assert counts["live memories without their episodes"] == 1


# -- short runs --------------------------------------------------------------------------------------


def _run(store: str, url: str | None, *, server: bool) -> Any:
    args = argparse.Namespace(processes=3, seconds=15.0, seed=7, server=server, keep=False)
    return bench.campaign(store, args, url)


@pytest.mark.slow
@pytest.mark.parametrize("server", [False, True], ids=["embedded", "server"])
@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_processes_sharing_a_store_lose_nothing_and_cross_no_scope(
    store: str, server: bool, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if store == "postgres" else None
    counts = _run(store, url, server=server)
    assert sum(value for key, value in counts.items() if key.startswith("op ")) > 100
    assert {key: counts[key] for key in bench.HEADLINE if counts[key]} == {}
