"""A deterministic embedder for tests and offline bulk loads: no model at all.

Each word and word pair is hashed into a fixed number of buckets (the "hashing
trick"), so texts sharing words have similar vectors. It is fast and needs
nothing, but it knows no synonyms: never the default.
"""

from __future__ import annotations

import hashlib
import re
from itertools import pairwise

import numpy as np

from engram.embedders.base import Purpose, Vectors, normalise_rows

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        self.model_name = f"hashing-{dimension}"

    def embed_batch(self, texts: list[str], *, purpose: Purpose = "document") -> Vectors:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [w.lower() for w in _WORD.findall(text)]
            for feature in words + [a + " " + b for a, b in pairwise(words)]:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimension
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        return normalise_rows(out)
