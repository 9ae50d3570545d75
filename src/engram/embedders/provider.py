"""The base class of the remote embedders: batching, retries, dimension.

A provider module implements ``_embed_once`` (one request for one batch, its
SDK's errors mapped to :class:`~engram.resilience.AttemptError`); the base class
splits bulk input into batches, runs each through the shared
:class:`~engram.resilience.CallRunner`, checks the answer's shape and
L2-normalises the rows.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import partial

import numpy as np
from pydantic import AliasChoices, Field

from engram.embedders.base import Purpose, Vectors, normalise_rows
from engram.providers.settings import ClientSettings
from engram.resilience import AttemptError, CallRunner

# Models whose output size is known without asking; others are asked once (a one-text call).
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "gemini-embedding-001": 3072,
    "text-embedding-004": 768,
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
}


class EmbedderSettings(ClientSettings):
    model: str
    dimensions: int | None = Field(
        default=None, ge=1, validation_alias=AliasChoices("dimensions", "embedding_dims", "dimension")
    )
    batch_size: int = Field(default=64, ge=1, le=2048, description="texts per request on bulk adds")


class ProviderEmbedder(ABC):
    provider: str
    settings: EmbedderSettings

    def __init__(self, settings: EmbedderSettings, *, endpoint: str) -> None:
        self.settings = settings
        self.endpoint = endpoint
        self._runner: CallRunner = settings.runner(self.provider, settings.model, endpoint)
        self._dimension = settings.dimensions or KNOWN_DIMENSIONS.get(settings.model.split(":")[0])
        self._probe_lock = threading.Lock()

    @property
    def model_name(self) -> str:
        suffix = f"@{self.settings.dimensions}" if self.settings.dimensions else ""
        return f"{self.provider}/{self.settings.model}{suffix}"

    @property
    def dimension(self) -> int:
        """The vector size: configured, known for the model, or asked of the model once."""
        with self._probe_lock:
            if self._dimension is None:
                self._dimension = int(self._embed_batch(["dimension probe"], "document").shape[1])
            return self._dimension

    def embed_batch(self, texts: list[str], *, purpose: Purpose = "document") -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._embed_batch(texts, purpose)

    def _embed_batch(self, texts: list[str], purpose: Purpose) -> Vectors:
        rows: list[Sequence[float]] = []
        size = self.settings.batch_size
        for start in range(0, len(texts), size):
            batch = texts[start : start + size]
            vectors = self._runner.run(partial(self._checked, batch, purpose))
            rows.extend(vectors)
        return normalise_rows(np.asarray(rows, dtype=np.float32))

    def _checked(self, batch: list[str], purpose: Purpose) -> list[Sequence[float]]:
        vectors = self._embed_once(batch, purpose)
        widths = {len(vector) for vector in vectors}
        if len(vectors) != len(batch) or len(widths) != 1 or 0 in widths:
            raise AttemptError(
                f"the response was malformed: {len(vectors)} vectors of sizes {sorted(widths)} for {len(batch)} texts",
                provider=self.provider,
                model=self.settings.model,
            )
        if self._dimension is not None and widths != {self._dimension}:
            raise AttemptError(
                f"the model returned {widths.pop()}-dimensional vectors, but {self._dimension} were "
                "expected: set 'dimensions' in the embedder config to the model's size",
                provider=self.provider,
                model=self.settings.model,
            )
        return vectors

    @abstractmethod
    def _embed_once(self, texts: list[str], purpose: Purpose) -> list[Sequence[float]]:
        """One request for one batch; SDK errors come out as AttemptError."""


__all__ = ["KNOWN_DIMENSIONS", "EmbedderSettings", "ProviderEmbedder"]
