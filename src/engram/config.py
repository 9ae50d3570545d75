"""Configuration: what ``Memory.from_config`` accepts, validated once.

The keys are mem0's, so an existing config works::

    {
        "llm": {"provider": "openai", "config": {"model": "gpt-4.1-mini"}},
        "embedder": {"provider": "local", "config": {}},
        "vector_store": {"provider": "sqlite", "config": {"path": "~/.engram/engram.db"}},
        "custom_fact_extraction_prompt": "...",
        "custom_update_memory_prompt": "...",
    }

Environment variables are read only when a default is built (never at import).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from engram.errors import ConfigError
from engram.privacy.screening import PrivacyConfig
from engram.privacy.sources import TrustConfig

DEFAULT_HOME = "~/.engram"
DEFAULT_DB_NAME = "engram.db"
HOME_ENV = "ENGRAM_HOME"
DB_PATH_ENV = "ENGRAM_DB_PATH"
CONFIG_ENV = "ENGRAM_CONFIG"


class ProviderConfig(BaseModel):
    """A provider name and its own settings, e.g. ``{"provider": "openai", "config": {...}}``."""

    model_config = ConfigDict(extra="forbid")

    provider: str
    config: dict[str, Any] = Field(default_factory=dict)


class MemoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    llm: ProviderConfig | None = None
    embedder: ProviderConfig | None = None
    vector_store: ProviderConfig | None = None
    graph_store: dict[str, Any] | None = None
    history_db_path: str | None = None
    custom_fact_extraction_prompt: str | None = None
    custom_update_memory_prompt: str | None = None
    recent_messages: int = Field(default=10, ge=0, le=200)
    # infer=True: a user sentence no extracted fact covers is kept as said (pipeline/coverage.py)
    keep_uncovered: bool = True
    version: str | None = None  # mem0 configs carry one; accepted and ignored
    retention_days: float | None = Field(default=None, ge=0)  # prune() drops history older than this
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)  # keep / redact / refuse per category
    trust: TrustConfig = Field(default_factory=TrustConfig)  # whose words become facts (docs/privacy.md)

    @classmethod
    def parse(cls, raw: MemoryConfig | Mapping[str, Any] | str | Path | None) -> MemoryConfig:
        """Validate a config given as a model, a dict, or the path of a TOML/YAML/JSON file.

        With nothing given, ``$ENGRAM_CONFIG`` names the file, if set.
        """
        if raw is None:
            raw = os.environ.get(CONFIG_ENV) or None
            if raw is None:
                return cls()
        if isinstance(raw, MemoryConfig):
            return raw
        if isinstance(raw, str | Path):
            raw = load_config_file(Path(raw))
        try:
            return cls.model_validate(dict(raw))
        except pydantic.ValidationError as exc:
            raise ConfigError(f"invalid engram config: {problems_of(exc)}") from exc


def problems_of(exc: pydantic.ValidationError) -> str:
    """A pydantic error as one line: each setting it names and what is wrong with it."""
    return "; ".join(f"{'.'.join(str(p) for p in error['loc']) or 'config'}: {error['msg']}" for error in exc.errors())


def default_db_path() -> Path:
    """``$ENGRAM_DB_PATH``, else ``$ENGRAM_HOME/engram.db``, else ``~/.engram/engram.db``."""
    if explicit := os.environ.get(DB_PATH_ENV):
        return Path(explicit).expanduser()
    return Path(os.environ.get(HOME_ENV, DEFAULT_HOME)).expanduser() / DEFAULT_DB_NAME


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a config file; the suffix says the format (.toml, .yaml/.yml or .json)."""
    path = path.expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError as exc:
                raise ConfigError(f"{path} is YAML: run `pip install pyyaml`, or use TOML or JSON") from exc
            data = yaml.safe_load(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"{path}: use a .toml, .yaml, .yml or .json config file")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise ConfigError(f"{path} is not valid {suffix.lstrip('.').upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings at the top level")
    return data
