from __future__ import annotations

import pytest

from engram.eval.metrics import bleu1, percentile, recall_at_k, reciprocal_rank, summarise, token_f1

# Five retrieved memories and the dialog ids each came from.
RETRIEVED = [["D1:1"], ["D2:4", "D2:5"], [], ["D3:1"], ["D1:2"]]


def test_recall_counts_evidence_covered_by_the_first_k_memories() -> None:
    evidence = ["D2:5", "D1:2", "D9:9"]
    assert recall_at_k(RETRIEVED, evidence, 1) == 0.0
    assert recall_at_k(RETRIEVED, evidence, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RETRIEVED, evidence, 5) == pytest.approx(2 / 3)
    assert recall_at_k(RETRIEVED, evidence, 50) == pytest.approx(2 / 3)


def test_recall_without_evidence_is_zero() -> None:
    assert recall_at_k(RETRIEVED, [], 5) == 0.0


def test_reciprocal_rank_is_that_of_the_first_memory_with_any_evidence() -> None:
    assert reciprocal_rank(RETRIEVED, ["D3:1", "D1:2"]) == pytest.approx(1 / 4)
    assert reciprocal_rank(RETRIEVED, ["D1:1"]) == 1.0
    assert reciprocal_rank(RETRIEVED, ["D7:7"]) == 0.0


def test_token_f1_ignores_case_punctuation_and_articles() -> None:
    assert token_f1("The grey cat.", "a Grey CAT") == 1.0
    # prediction: grey, cat, called, pixel; gold: grey, cat -> precision 1/2, recall 1
    assert token_f1("a grey cat called Pixel", "grey cat") == pytest.approx(2 / 3)
    assert token_f1("dog", "cat") == 0.0


def test_bleu1_applies_the_brevity_penalty() -> None:
    assert bleu1("grey cat", "grey cat") == 1.0
    # one of two words right, prediction shorter than the reference (2 vs 3): penalty e^(1 - 3/2)
    assert bleu1("grey dog", "a grey cat called") == pytest.approx(0.5 * 2.718281828 ** (1 - 3 / 2), rel=1e-6)
    assert bleu1("", "cat") == 0.0


def test_percentile_interpolates() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
    assert percentile([], 50) == 0.0


def test_summarise_averages_only_the_scores_present() -> None:
    rows = [
        {"recall@10": 1.0, "mrr": 1.0, "search_ms": 2.0},
        {"recall@10": 0.5, "mrr": 0.25, "search_ms": 4.0, "judge": 1.0},
    ]
    summary = summarise(rows)
    assert summary["questions"] == 2
    assert summary["recall@10"] == 0.75
    assert summary["mrr"] == 0.625
    assert summary["judge"] == 1.0
    assert summary["search_ms_p50"] == 3.0
    assert "f1" not in summary
