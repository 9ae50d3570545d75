"""docs/cli.md's promise: a failing command prints one line on stderr and exits non-zero (2 for a
wrong use of the command, 1 for anything else), with no traceback and no file half written."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from engram.cli import main

EMBEDDED = {"embedder": {"provider": "hashing"}}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh embedded store, through ENGRAM_CONFIG and ENGRAM_DB_PATH as a user would set them."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps(EMBEDDED))
    monkeypatch.setenv("ENGRAM_CONFIG", str(config))
    monkeypatch.setenv("ENGRAM_DB_PATH", str(tmp_path / "engram.db"))
    monkeypatch.delenv("ENGRAM_SERVER_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_line_failure(args: list[str], capsys: pytest.CaptureFixture[str], status: int = 1) -> str:
    """Run the command, check it failed with ``status`` and one line on stderr; return that line."""
    try:
        code = main(args)
    except SystemExit as exit_:  # the parser's own errors exit from parse_args
        code = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert code == status, err
    assert err.count("\n") == 1 and err.startswith("engram"), err
    assert "Traceback" not in err
    return err


def add(text: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["add", text, "-u", "alice", "--no-infer", "--json"]) == 0
    return str(json.loads(capsys.readouterr().out)["results"][0]["id"])


def test_export_to_a_missing_folder_is_one_line_and_writes_nothing(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add("Likes tea", capsys)
    err = one_line_failure(["export", "nowhere/out.jsonl", "--quiet"], capsys)
    assert "the folder nowhere does not exist" in err
    assert not (store / "nowhere").exists()


def test_export_to_a_folder_is_one_line_and_leaves_no_partial_file(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add("Likes tea", capsys)
    (store / "backups").mkdir()
    assert "it is a folder" in one_line_failure(["export", "backups", "--quiet"], capsys)
    assert sorted(path.name for path in store.iterdir() if "partial" in path.name) == []
    assert list((store / "backups").iterdir()) == []


def test_add_messages_from_a_missing_file_is_one_line(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_failure(["add", "--messages", "missing.json", "-u", "alice", "--no-infer"], capsys)
    assert "cannot read --messages missing.json" in err


def test_a_store_in_a_folder_that_cannot_be_created_is_one_line(
    store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (store / "a-file").write_text("not a folder")
    monkeypatch.setenv("ENGRAM_DB_PATH", str(store / "a-file" / "sub" / "engram.db"))
    err = one_line_failure(["list", "-u", "alice"], capsys)
    assert "cannot open the store" in err and "ENGRAM_DB_PATH" in err


def test_history_of_an_unknown_id_fails_like_get(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert one_line_failure(["get", "no-such-id"], capsys) == "engram: NotFoundError: no memory has id 'no-such-id'\n"
    assert one_line_failure(["history", "no-such-id"], capsys) == (
        "engram: NotFoundError: no memory has id 'no-such-id'\n"
    )


def test_history_of_a_deleted_memory_is_still_shown(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    memory_id = add("Likes tea", capsys)
    assert main(["delete", memory_id]) == 0
    capsys.readouterr()
    assert main(["history", memory_id, "--json"]) == 0
    assert [row["event"] for row in json.loads(capsys.readouterr().out)] == ["ADD", "DELETE"]


def test_get_prints_json(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["add", "Likes tea", "-u", "alice", "--no-infer", "--metadata", '{"topic": "food"}', "--json"]) == 0
    memory_id = json.loads(capsys.readouterr().out)["results"][0]["id"]
    assert main(["get", memory_id]) == 0
    item = json.loads(capsys.readouterr().out)
    assert (item["memory"], item["metadata"]) == ("Likes tea", {"topic": "food"})


def test_import_from_mem0_without_its_credentials_is_one_line(
    store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """mem0 builds an OpenAI client as it opens; without OPENAI_API_KEY the SDK raises its own error."""
    import openai

    class Mem0Memory:
        @classmethod
        def from_config(cls, config: dict[str, object]) -> None:
            raise openai.OpenAIError("The api_key client option must be set")

    monkeypatch.setitem(sys.modules, "mem0", types.SimpleNamespace(Memory=Mem0Memory))
    (store / "mem0.json").write_text("{}")
    err = one_line_failure(["import", "--from-mem0", "mem0.json", "--quiet"], capsys)
    assert "ConfigError" in err and "OPENAI_API_KEY" in err and "api_key client option" in err


def test_a_reader_that_stops_early_is_one_line_not_a_traceback(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messages = store / "long.json"
    messages.write_text(json.dumps([{"role": "user", "content": "word " * 40_000}]))  # beyond a pipe's buffer
    assert main(["add", "--messages", str(messages), "-u", "alice", "--no-infer", "--json"]) == 0
    memory_id = json.loads(capsys.readouterr().out)["results"][0]["id"]
    reader = subprocess.Popen(
        [sys.executable, "-m", "engram.cli", "get", memory_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.read(10)  # what `engram get ID | head -c 10` reads
    reader.stdout.close()
    err = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 1
    assert err == "engram: the output was closed before all of it was written\n"


@pytest.mark.parametrize(
    "args",
    [
        ["search", "tea", "-u", "a", "--threshold", "5"],
        ["search", "tea", "-u", "a", "--threshold", "-0.1"],
        ["search", "tea", "-u", "a", "--threshold", "nan"],
        ["search", "tea", "-u", "a", "--limit", "0"],
        ["search", "tea", "-u", "a", "-n", "10001"],
        ["search", "tea", "-u", "a", "--episodes", "-1"],
        ["list", "-u", "a", "--limit", "0"],
        ["list", "-u", "a", "--limit", "ten"],
        ["prune", "--retention-days", "-1"],
        ["prune", "--retention-days", "inf"],
        ["consolidate", "-u", "a", "--threshold", "0"],
        ["consolidate", "-u", "a", "--threshold", "1.5"],
        ["eval", "locomo", "data.json", "-k", "0"],
        ["serve", "--port", "70000"],
        ["serve", "--workers", "0"],
        ["serve", "--job-workers", "0"],
        ["serve", "--max-body-bytes", "0"],
        ["serve", "--max-open-projects", "0"],
        ["serve", "--max-connections", "0"],
        ["serve", "--prune-interval-hours", "0"],
        ["mcp", "--port", "-1"],
        ["ui", "--port", "65536"],
    ],
)
def test_out_of_range_options_are_refused_as_usage_errors(
    args: list[str], store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = one_line_failure(args, capsys, status=2)
    assert f"engram {args[0]}" in err and "must be" in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["delete", "-u", "a"], "give a memory id, or --all"),
        (["add", "-u", "a"], "give the text to remember"),
        (["import"], "give the export file to import"),
        (["search"], "the following arguments are required: query"),
    ],
)
def test_a_wrong_use_of_a_command_is_status_2(
    args: list[str], says: str, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert says in one_line_failure(args, capsys, status=2)
