"""One registry per kind of provider: built-in names, aliases, and outside packages by entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram import Memory
from engram.embedders import build_embedder
from engram.errors import ConfigError
from engram.llms import build_llm
from engram.providers import EMBEDDERS, GRAPH_STORES, LLMS, STORES

PLUGIN = """
from engram.embedders.hashing import HashingEmbedder
from engram.llms.base import Completion, Usage
from engram.storage import SQLiteStore


class EchoLLM:
    model_name = "echo"

    def __init__(self, **settings):
        self.settings = settings

    def complete(self, messages, *, json_schema=None):
        return Completion('{"facts": []}', Usage(1, 1, 1), "echo")


class TinyEmbedder(HashingEmbedder):
    pass


def tiny_store(settings, *, config, default_path):
    return SQLiteStore(settings["file"])
"""

ENTRY_POINTS = """
[engram.llms]
echo = engram_test_plugin:EchoLLM

[engram.embedders]
tiny = engram_test_plugin:TinyEmbedder

[engram.stores]
tiny_store = engram_test_plugin:tiny_store

[engram.graph_stores]
outside_graph = engram_test_plugin:EchoLLM
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed package that registers one provider of each kind through entry points."""
    (tmp_path / "engram_test_plugin.py").write_text(PLUGIN)
    info = tmp_path / "engram_test_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: engram-test-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_an_outside_package_adds_a_provider_of_each_kind(plugin: Path) -> None:
    assert build_llm("echo", {"temperature": 0}).settings == {"temperature": 0}  # type: ignore[attr-defined]
    assert type(build_embedder("tiny")).__name__ == "TinyEmbedder"
    assert GRAPH_STORES.find("outside_graph") == "engram_test_plugin:EchoLLM"
    config = {
        "llm": {"provider": "echo"},
        "embedder": {"provider": "tiny"},
        "vector_store": {"provider": "tiny_store", "config": {"file": str(plugin / "m.db")}},
    }
    with Memory(config) as memory:
        memory.add("I like tea", user_id="u", infer=False)
        assert memory.add("I like coffee", user_id="u")["results"] == []  # the echo LLM found no facts
        assert (plugin / "m.db").exists()
    assert {"echo", "tiny", "tiny_store"} <= set(LLMS.names()) | set(EMBEDDERS.names()) | set(STORES.names())


def test_an_alias_names_the_same_provider() -> None:
    assert LLMS.find("google") == LLMS.find("gemini")
    assert STORES.canonical("pgvector") == "postgres"
    assert EMBEDDERS.find("huggingface") == EMBEDDERS.find("sentence_transformers")


@pytest.mark.parametrize(
    ("build", "kind"),
    [
        (lambda: build_llm("nope"), "unknown LLM provider 'nope'; use one of: "),
        (lambda: build_embedder("nope"), "unknown embedder provider 'nope'; use one of: "),
        (lambda: Memory({"vector_store": {"provider": "nope"}}), "unknown vector_store provider 'nope'; use one of: "),
    ],
)
def test_an_unknown_provider_is_a_config_error_listing_the_known_ones(build: object, kind: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build()  # type: ignore[operator]
    assert str(caught.value).startswith(kind)
    assert "sqlite" in str(caught.value) or "openai" in str(caught.value) or "local" in str(caught.value)
