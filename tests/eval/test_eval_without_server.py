"""`engram eval` needs only the eval extra: it runs with the server's packages blocked from import.
(.ci/run also checks it in a fresh venv with only `pip install -e '.[eval]'`.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BLOCK_SERVER_PACKAGES = """
import sys
for name in ("fastapi", "uvicorn", "starlette", "mcp", "prometheus_client", "psycopg"):
    sys.modules[name] = None  # importing it now raises ImportError, as if it were not installed
from engram.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_engram_eval_runs_without_the_server_extra(locomo_file: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"embedder": {"provider": "hashing"}}))
    run = subprocess.run(
        [sys.executable, "-c", BLOCK_SERVER_PACKAGES, "eval", "locomo", str(locomo_file),
         "--out", str(tmp_path / "out"), "--config", str(config), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "results.json").exists()
