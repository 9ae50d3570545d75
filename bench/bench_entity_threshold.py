"""Entity resolution by name embedding: error rates of each threshold on labelled name pairs.

Two names that normalise differently are the same entity when their embeddings (the packaged
MiniLM embedder) are at least ``threshold`` similar. For each threshold this prints how often
two different entities would be merged (false merges) and how often two spellings of one
entity would be kept apart (missed merges), on the hand-labelled pairs of
tests/graph_name_pairs.py. A false merge corrupts the graph; a missed one only splits it.

    .venv/bin/python bench/bench_entity_threshold.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from engram.embedders.local_minilm import LocalMiniLM
from engram.pipeline.entities import DEFAULT_ENTITY_THRESHOLD
from graph_name_pairs import DIFFERENT, SAME


def similarities(embedder: LocalMiniLM, pairs: list[tuple[str, str]]) -> np.ndarray:
    left = embedder.embed_batch([a for a, _ in pairs], purpose="document")
    right = embedder.embed_batch([b for _, b in pairs], purpose="document")
    return np.sum(left * right, axis=1)


def main() -> None:
    embedder = LocalMiniLM()
    same, different = similarities(embedder, SAME), similarities(embedder, DIFFERENT)
    print(f"{len(SAME)} pairs of one entity, {len(DIFFERENT)} pairs of two (tests/graph_name_pairs.py)")
    print(f"{'threshold':>10}{'false merges':>14}{'missed merges':>15}")
    for threshold in np.arange(0.60, 0.96, 0.05):
        marker = "  <- default" if abs(threshold - DEFAULT_ENTITY_THRESHOLD) < 1e-9 else ""
        print(f"{threshold:>10.2f}{np.mean(different >= threshold):>14.0%}{np.mean(same < threshold):>15.0%}{marker}")
    print("\nclosest different pairs:")
    for i in np.argsort(-different)[:5]:
        print(f"  {different[i]:.3f}  {DIFFERENT[i]}")
    print("same pairs below the default:")
    for i in np.argsort(same):
        if same[i] < DEFAULT_ENTITY_THRESHOLD:
            print(f"  {same[i]:.3f}  {SAME[i]}")


if __name__ == "__main__":
    main()
