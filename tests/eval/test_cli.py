from __future__ import annotations

import json
from pathlib import Path

import pytest

from engram.cli import main


def test_eval_locomo_runs_end_to_end_and_writes_every_report(
    locomo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    assert main(["eval", "locomo", str(locomo_file), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "results.json").read_text())
    assert summary["overall"]["questions"] == 4
    assert set(summary["by_category"]) == {"1", "2", "3", "4"}
    assert summary["overall"]["recall@10"] == 1.0
    for picture in ("recall_by_category.png", "latency.png"):
        assert (out / picture).read_bytes().startswith(b"\x89PNG")
    printed = capsys.readouterr().out
    assert "| overall (1–4) | 4 |" in printed
    assert (out / "results.md").read_text().count("\n|") >= 6


def test_eval_locomo_reports_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "locomo", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o")]) == 1
    assert "cannot read LoCoMo file" in capsys.readouterr().err
