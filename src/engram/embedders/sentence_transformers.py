"""Any sentence-transformers model from a local folder (``pip install 'engramdb[sentence-transformers]'``).

Nothing is downloaded: the model must already be on disk (``model`` is its
path), and it is loaded with ``local_files_only``. Models that embed questions
and passages differently (e5, bge) take ``query_prefix`` / ``document_prefix``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from engram.embedders.base import Purpose, Vectors, normalise_rows
from engram.errors import ConfigError
from engram.providers.settings import import_sdk, parse_settings


class SentenceTransformerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="path to a sentence-transformers model folder")
    batch_size: int = Field(default=32, ge=1)
    device: str = "cpu"
    query_prefix: str = ""
    document_prefix: str = ""


class SentenceTransformerEmbedder:
    def __init__(self, **config: Any) -> None:
        self.settings = parse_settings(SentenceTransformerSettings, "embedder 'sentence_transformers'", config)
        self.path = Path(self.settings.model).expanduser()
        if not self.path.is_dir():
            raise ConfigError(
                f"sentence-transformers model folder {self.path} does not exist: engram loads local "
                "models only; pass the folder that holds the model's config and weights"
            )
        sdk = import_sdk("sentence_transformers", extra="sentence-transformers", package="sentence-transformers")
        self._model = sdk.SentenceTransformer(str(self.path), device=self.settings.device, local_files_only=True)
        self.model_name = f"sentence-transformers/{self.path.name}"
        self.dimension = int(self._model.get_sentence_embedding_dimension())
        self._lock = threading.Lock()  # the model is not safe to call from several threads

    def embed_batch(self, texts: list[str], *, purpose: Purpose = "document") -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        prefix = self.settings.query_prefix if purpose == "query" else self.settings.document_prefix
        with self._lock:
            vectors = self._model.encode(
                [prefix + text for text in texts],
                batch_size=self.settings.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return normalise_rows(vectors)


__all__ = ["SentenceTransformerEmbedder", "SentenceTransformerSettings"]
