"""Fusion is a pure function over named ranked lists; a new signal plugs in as one more list."""

from __future__ import annotations

import pytest

from engram.search import GRAPH, KEYWORD, VECTOR, Weights, fuse


def test_the_score_is_the_weighted_sum_of_normalised_scores() -> None:
    lists = {VECTOR: [("a", 0.8), ("b", 0.4)], KEYWORD: [("b", 6.0), ("c", 3.0)]}
    fused = {f.memory_id: f for f in fuse(lists, Weights(lists={VECTOR: 0.5, KEYWORD: 0.5}))}
    assert fused["a"].score == pytest.approx(0.5 * 0.8 + 0.5 * 0.0)
    assert fused["b"].score == pytest.approx(0.5 * 0.4 + 0.5 * 1.0)  # the best keyword match counts 1
    assert fused["c"].signals == {VECTOR: 0.4, KEYWORD: 0.5}  # missing from the vector list: its floor


def test_an_extra_list_counts_only_with_a_weight() -> None:
    lists = {VECTOR: [("a", 0.9), ("b", 0.5)], "links": [("b", 2.0)]}
    unweighted = fuse(lists, Weights(lists={VECTOR: 1.0}))
    assert [f.memory_id for f in unweighted] == ["a", "b"]
    weighted = fuse(lists, Weights(lists={VECTOR: 1.0, "links": 0.5}))
    assert [f.memory_id for f in weighted] == ["b", "a"]
    assert weighted[0].signals["links"] == 1.0  # scaled by its best score


def test_limit_keeps_the_best_and_ties_break_by_id() -> None:
    lists = {KEYWORD: [("z", 1.0), ("y", 1.0), ("x", 0.5)]}
    assert [f.memory_id for f in fuse(lists, Weights(lists={KEYWORD: 1.0}), limit=2)] == ["y", "z"]


def test_the_graph_list_keeps_its_scores() -> None:
    fused = fuse({VECTOR: [("a", 0.5)], GRAPH: [("a", 0.4)]}, Weights(lists={VECTOR: 1.0, GRAPH: 0.5}))
    assert fused[0].signals[GRAPH] == 0.4
    assert fused[0].score == pytest.approx(0.5 + 0.5 * 0.4)
