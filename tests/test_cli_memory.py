"""The memory commands of ``engram`` on the embedded store: each prints a table, or the verb's
result with ``--json``. (tests/server/test_cli_memory.py runs them against a live server.)"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engram.cli import main

Run = Callable[..., Any]


@pytest.fixture
def engram(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """``engram(*args)``: run the command on a fresh embedded store; returns the parsed JSON
    output with ``--json``, else the printed text. ``fails=1`` (a verb's error) or ``fails=2`` (a wrong
    use of the command) expects that status and returns the stderr."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"embedder": {"provider": "hashing"}, "retention_days": 30}))
    monkeypatch.setenv("ENGRAM_DB_PATH", str(tmp_path / "engram.db"))
    monkeypatch.setenv("ENGRAM_CONFIG", str(config))
    monkeypatch.delenv("ENGRAM_SERVER_URL", raising=False)

    def run(*args: str, fails: int = 0) -> Any:
        code = main(list(args))
        out, err = capsys.readouterr()
        if fails:
            assert code == fails, out
            return err
        assert code == 0, err
        return json.loads(out) if "--json" in args else out

    return run


def test_add_then_list_get_and_search(engram: Run) -> None:
    added = engram("add", "I", "adopted", "a", "parrot", "--user-id", "alice", "--no-infer", "--json")
    [result] = added["results"]
    assert (result["event"], result["memory"]) == ("ADD", "I adopted a parrot")
    listed = engram("list", "-u", "alice")
    assert "I adopted a parrot" in listed and result["id"] in listed
    assert engram("get", result["id"], "--json")["user_id"] == "alice"
    assert json.loads(engram("get", result["id"]))["memory"] == "I adopted a parrot"  # JSON with or without --json
    hits = engram("search", "parrot", "-u", "alice", "--json")["results"]
    assert [hit["id"] for hit in hits] == [result["id"]]
    assert engram("search", "parrot", "-u", "alice").splitlines()[0].split() == ["score", "id", "created_at", "memory"]


def test_search_shows_what_was_said_beside_the_results(engram: Run) -> None:
    engram("add", "I adopted a parrot", "-u", "alice", "--no-infer")
    engram("add", "The parrot hates the kettle", "-u", "alice", "--no-infer")
    found = engram("search", "parrot kettle", "-u", "alice", "-n", "1", "--episodes", "2", "--json")
    assert len(found["results"]) == 1 and len(found["episodes"]) == 1
    shown = engram("search", "parrot kettle", "-u", "alice", "-n", "1", "--episodes", "2")
    assert "what was said, beyond these:" in shown and found["episodes"][0]["content"] in shown


def test_add_reads_messages_metadata_and_timestamp(engram: Run, tmp_path: Path) -> None:
    messages = tmp_path / "chat.json"
    messages.write_text(
        json.dumps([{"role": "user", "content": "Moved to Lisbon"}, {"role": "assistant", "content": "Nice"}])
    )
    engram(
        "add", "--messages", str(messages), "-u", "bob", "--no-infer",
        "--metadata", '{"topic": "home"}', "--timestamp", "2024-05-01T10:00:00Z",
    )  # fmt: skip
    items = engram("list", "-u", "bob", "--filters", '{"topic": "home"}', "--json")["results"]
    assert {item["memory"] for item in items} == {"Moved to Lisbon", "Nice"}
    assert {item["created_at"][:10] for item in items} == {"2024-05-01"}


def test_update_history_and_delete(engram: Run) -> None:
    memory_id = engram("add", "Lives in Paris", "-u", "u", "--no-infer", "--json")["results"][0]["id"]
    assert "updated" in engram("update", memory_id, "Lives", "in", "Rome")
    assert engram("get", memory_id, "--json")["memory"] == "Lives in Rome"
    events = [row["event"] for row in engram("history", memory_id, "--json")]
    assert events == ["ADD", "UPDATE"]
    assert "Lives in Paris" in engram("history", memory_id)
    engram("delete", memory_id)
    assert "no memory has id" in engram("get", memory_id, fails=1)


def test_episodes_lists_what_a_scope_was_told(engram: Run) -> None:
    engram("add", "I adopted a parrot", "-u", "u", "--no-infer", "--timestamp", "2024-05-01T10:00:00Z")
    engram("add", "It hates the kettle", "-u", "u", "--no-infer", "--timestamp", "2024-05-02T10:00:00Z")
    assert [e["content"] for e in engram("episodes", "-u", "u", "-n", "1", "--json")["results"]] == [
        "It hates the kettle"
    ]
    printed = engram("episodes", "-u", "u", "--before", "2024-05-02")
    assert "I adopted a parrot" in printed and "kettle" not in printed
    assert "scope" in engram("episodes", fails=1)


def test_dated_updates_and_as_of_reads(engram: Run) -> None:
    memory_id = engram("add", "Lives in Paris", "-u", "u", "--no-infer", "--timestamp", "2024-01-01", "--json")
    memory_id = memory_id["results"][0]["id"]
    engram("update", memory_id, "Lives in Rome", "--timestamp", "2024-06-01")
    then = engram("list", "-u", "u", "--as-of", "2024-03-01", "--json")["results"]
    assert [item["memory"] for item in then] == ["Lives in Paris"]
    found = engram("search", "where does u live", "-u", "u", "--as-of", "2024-03-01", "--json")["results"]
    assert [item["memory"] for item in found] == ["Lives in Paris"]
    assert [item["memory"] for item in engram("list", "-u", "u", "--json")["results"]] == ["Lives in Rome"]


def test_delete_all_needs_a_scope(engram: Run) -> None:
    engram("add", "one", "-u", "u", "--no-infer")
    assert "needs a scope" in engram("delete", "--all", fails=2)
    engram("delete", "--all", "-u", "u")
    assert engram("list", "-u", "u", "--json")["results"] == []


def test_stats_of_the_store_and_of_a_scope(engram: Run) -> None:
    engram("add", "one", "-u", "u", "--no-infer")
    engram("add", "two", "-u", "v", "--no-infer", "--expiration-date", "2000-01-01")
    whole = engram("stats", "--json")
    assert (whole["memories"], whole["expired"], whole["history"]) == (1, 1, 2)
    scoped = engram("stats", "-u", "v", "--json")
    assert (scoped["memories"], scoped["expired"], scoped["retracted"]) == (0, 1, 0)
    assert "memories: 1" in engram("stats")


def test_prune_removes_expired_memories(engram: Run) -> None:
    engram("add", "old plan", "-u", "u", "--no-infer", "--expiration-date", "2000-01-01")
    assert engram("prune", "--json")["expired_memories"] == 1
    assert engram("stats", "--json")["expired"] == 0


def test_export_and_import_through_the_cli(engram: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engram("add", "Likes tea", "-u", "u", "--no-infer")
    path = tmp_path / "out.jsonl"
    assert engram("export", str(path), "-u", "u", "--quiet", "--json") == {"memories": 1, "path": str(path)}
    monkeypatch.setenv("ENGRAM_DB_PATH", str(tmp_path / "other.db"))
    assert engram("import", str(path), "--quiet", "--json")["imported"] == 1
    assert "imported 0 new memories of 1" in engram("import", str(path), "--quiet")
    assert [item["memory"] for item in engram("list", "-u", "u", "--json")["results"]] == ["Likes tea"]


def test_consolidate_merges_duplicates(engram: Run) -> None:
    engram("add", "Likes green tea.", "-u", "u", "--no-infer")
    engram("add", "likes green TEA", "-u", "u", "--no-infer")
    assert "merged 1 memories into 1" in engram("consolidate", "-u", "u", "--no-infer")
    assert len(engram("list", "-u", "u", "--json")["results"]) == 1
    assert engram("consolidate", "-u", "u", "--no-infer", "--json")["merged"] == 0


def test_a_verb_error_is_one_line_on_stderr(engram: Run) -> None:
    assert engram("list", fails=1).startswith("engram: ValidationError: a scope is required")
    assert "--metadata must be JSON" in engram("add", "x", "-u", "u", "--metadata", "{nope", fails=1)
    assert "give the text to remember" in engram("add", "-u", "u", fails=2)


def test_consolidate_and_import_refuse_a_server_url(engram: Run) -> None:
    err = engram("prune", "--server-url", "http://127.0.0.1:9", "--api-key", "k", fails=1)
    assert "works on the store itself" in err


@pytest.mark.parametrize(
    "command",
    [
        "add",
        "search",
        "list",
        "get",
        "update",
        "delete",
        "history",
        "export",
        "import",
        "prune",
        "consolidate",
        "stats",
    ],
)
def test_every_memory_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "--json" in capsys.readouterr().out


def test_the_command_runs_as_a_module(engram: Run) -> None:
    run = subprocess.run([sys.executable, "-m", "engram.cli", "stats", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--user-id" in run.stdout
