"""The README's commands stay true, and the CLI demo runs on the embedded defaults."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    assert block is not None
    return block.group(1).strip().splitlines()


def test_readme_starts_with_the_install_and_test_commands() -> None:
    install_and_demo, tests = readme_commands()[:2]
    assert install_and_demo.endswith("engram demo")
    assert tests.endswith("python -m pytest")


def test_ci_runs_the_readme_test_command() -> None:
    assert "sed -n 2p" in (ROOT / ".ci" / "run").read_text()


def test_ci_makes_the_browser_tests_run_rather_than_skip() -> None:
    """Without CI set, a missing Chromium skips the dashboard tests; CI installs it and must run them."""
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^export CI=true$", script, re.MULTILINE)
    assert "apt-get install -y -qq chromium" in script
    assert script.index("export CI=true") < script.index('bash -c "$test_command"')


def test_engram_demo_stores_and_searches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"ENGRAM_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "engram.cli", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert "Stored 5 memories" in run.stdout
    assert re.search(r"\? Where does Maya live\?\n  0\.\d+  2025-06-14  .*Lisbon", run.stdout)
    assert (tmp_path / "engram.db").exists()
