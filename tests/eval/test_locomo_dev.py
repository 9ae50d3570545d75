"""The retrieval target on the real development set, when it lies beside the repository (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram.eval.runner import run_locomo

DATASET = Path(__file__).resolve().parents[3] / "shared" / "data" / "locomo-dev.json"


@pytest.mark.slow
@pytest.mark.skipif(not DATASET.exists(), reason="../shared/data/locomo-dev.json is not here")
def test_recall_at_10_on_locomo_dev_is_at_least_0_80(tmp_path: Path) -> None:
    run = run_locomo(DATASET, tmp_path, progress=False)
    recall = sum(row["recall@10"] for row in run.rows) / len(run.rows)
    assert len(run.rows) == 760
    assert recall >= 0.80
