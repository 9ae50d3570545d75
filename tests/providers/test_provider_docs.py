"""docs/providers.md names only providers that exist, and every provider is documented."""

from __future__ import annotations

import re
from pathlib import Path

from engram.embedders import EMBEDDERS
from engram.llms import LLMS

DOC = (Path(__file__).parents[2] / "docs" / "providers.md").read_text()


def documented_names(section: str) -> set[str]:
    body = DOC.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)`", body, re.MULTILINE))


def test_every_llm_provider_is_documented_and_every_documented_one_exists() -> None:
    assert documented_names("LLMs") == set(LLMS.builtins) - {"scripted"}


def test_every_embedder_is_documented_and_every_documented_one_exists() -> None:
    documented = documented_names("Embedders")
    assert documented <= set(EMBEDDERS.builtins)
    assert {"local", "openai", "ollama", "gemini", "sentence_transformers", "hashing"} <= documented
