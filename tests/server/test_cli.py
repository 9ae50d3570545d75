"""`engram keys`, `engram serve` and `engram mcp` from the command line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from engram.cli import main


def test_keys_create_list_and_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "--data-dir", str(tmp_path), "create", "--project", "shop", "--name", "web"]) == 0
    first_line, secret_line = capsys.readouterr().out.splitlines()[:2]
    key_id = first_line.split()[0]
    assert key_id.startswith("key_") and secret_line.startswith("ek_")
    assert main(["keys", "--data-dir", str(tmp_path), "list"]) == 0
    assert f"{key_id}  project=shop  name='web'  active" in capsys.readouterr().out
    assert main(["keys", "--data-dir", str(tmp_path), "revoke", key_id]) == 0
    assert main(["keys", "--data-dir", str(tmp_path), "list", "--project", "shop"]) == 0
    assert "revoked" in capsys.readouterr().out


def test_keys_revoke_of_an_unknown_id_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "--data-dir", str(tmp_path), "revoke", "key_nope"]) == 1
    assert "no API key has id" in capsys.readouterr().err


def test_keys_create_refuses_a_bad_project_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "--data-dir", str(tmp_path), "create", "--project", "Bad Name"]) == 1
    assert "project names are" in capsys.readouterr().err


@pytest.mark.parametrize("workers", ["1", pytest.param("2", marks=pytest.mark.slow)])
def test_engram_serve_answers_with_a_key_made_by_engram_keys(tmp_path: Path, workers: str) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "engram.cli", "keys", "--data-dir", str(tmp_path), "create", "--project", "p"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    secret = created.stdout.splitlines()[1]
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"embedder": {"provider": "hashing"}}))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "engram.cli", "serve", "--port", port, "--data-dir", str(tmp_path),
         "--config", str(config), "--log-level", "warning", "--workers", workers],
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {secret}"}
        for n in range(6):  # with two workers, the requests land on both: they share only the database
            body = {"messages": f"I like tea number {n}", "user_id": "u", "infer": False}
            assert httpx.post(f"{url}/v1/memories", json=body, headers=headers).status_code == 200
        listed = httpx.get(f"{url}/v1/memories", params={"user_id": "u"}, headers=headers).json()
        assert len(listed["results"]) == 6
    finally:
        server.terminate()
        server.wait(10)


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


@pytest.mark.parametrize("command", ["serve", "keys", "mcp"])
def test_help_describes_each_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "usage: engram " + command in capsys.readouterr().out
