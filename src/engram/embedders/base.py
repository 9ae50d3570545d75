"""The embedder protocol: ``embed_batch`` turns texts into unit vectors."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Purpose = Literal["document", "query"]
"""Some models embed what is stored and what is asked differently (e5 prefixes)."""

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Anything that embeds text.

    ``embed_batch`` returns a float32 array of shape ``(len(texts), dimension)``
    whose rows are L2-normalised, so a dot product is the cosine similarity.
    """

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_batch(self, texts: list[str], *, purpose: Purpose = "document") -> Vectors: ...


def normalise_rows(vectors: npt.ArrayLike) -> Vectors:
    """L2-normalise each row; zero rows stay zero."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: Vectors = (array / norms).astype(np.float32, copy=False)
    return normalised


def similarity_floor(embedder: Embedder) -> float:
    """The cosine an embedder gives unrelated texts (``similarity_floor`` on the embedder; 0 when it
    declares none): e5 models score nearly everything above 0.7, MiniLM spreads from about 0."""
    floor = getattr(embedder, "similarity_floor", 0.0)
    return float(floor) if isinstance(floor, int | float) and 0 <= floor < 1 else 0.0
