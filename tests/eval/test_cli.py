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


def test_eval_locomo_answers_with_the_llm_of_a_config_file(locomo_file: Path, tmp_path: Path) -> None:
    answers = ["A grey cat", '{"label": "CORRECT"}'] * 4  # an answer and a verdict per question
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"llm": {"provider": "scripted", "config": {"answers": answers}}}))
    out = tmp_path / "report"
    argv = ["eval", "locomo", str(locomo_file), "--out", str(out), "--answer", "--config", str(config), "--quiet"]
    assert main(argv) == 0
    overall = json.loads((out / "results.json").read_text())["overall"]
    assert overall["judge"] == 1.0
    assert overall["tokens"] > 0 and overall["answer_ms_p95"] >= 0
    assert "| judge | f1 | bleu1 | tokens |" in (out / "results.md").read_text()
