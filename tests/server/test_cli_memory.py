"""The memory commands of ``engram`` against a live server (``--server-url``, ``--api-key``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from engram.cli import main

from .conftest import LiveServer

Run = Callable[..., Any]


@pytest.fixture
def engram(live_server: LiveServer, project_key: str, capsys: pytest.CaptureFixture[str]) -> Run:
    """``engram(*args)`` against the live server's project; JSON with ``--json``, else the text."""

    def run(*args: str, fails: bool = False) -> Any:
        code = main([*args, "--server-url", live_server.url, "--api-key", project_key])
        out, err = capsys.readouterr()
        if fails:
            assert code == 1, out
            return err
        assert code == 0, err
        return json.loads(out) if "--json" in args else out

    return run


def test_add_list_get_search_update_history_delete_over_a_server(engram: Run) -> None:
    memory_id = engram("add", "I adopted a parrot", "-u", "alice", "--no-infer", "--json")["results"][0]["id"]
    assert "I adopted a parrot" in engram("list", "-u", "alice")
    assert engram("get", memory_id, "--json")["memory"] == "I adopted a parrot"
    assert engram("search", "parrot", "-u", "alice", "--json")["results"][0]["id"] == memory_id
    engram("update", memory_id, "I adopted two parrots")
    assert [row["event"] for row in engram("history", memory_id, "--json")] == ["ADD", "UPDATE"]
    assert engram("stats", "-u", "alice", "--json") == {"memories": 1}
    engram("delete", memory_id)
    assert "no memory has id" in engram("get", memory_id, fails=True)


def test_delete_all_over_a_server(engram: Run) -> None:
    engram("add", "one", "-u", "bob", "--no-infer")
    engram("delete", "--all", "-u", "bob")
    assert engram("list", "-u", "bob", "--json")["results"] == []


def test_store_commands_say_to_run_where_the_store_is(engram: Run) -> None:
    for command in (["prune"], ["export", "out.jsonl"], ["import", "in.jsonl"], ["consolidate", "-u", "u"]):
        assert "works on the store itself" in engram(*command, fails=True)
    assert "stats needs a scope" in engram("stats", fails=True)


def test_a_wrong_key_is_reported(live_server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "-u", "u", "--server-url", live_server.url, "--api-key", "ek_wrong"]) == 1
    assert "401" in capsys.readouterr().err
