"""Configuration is validated once, and every error says what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

import engram
from engram import ConfigError, EngramError, Memory, ValidationError
from engram.errors import NotFoundError, ProviderError, StorageError


def test_errors_share_one_root() -> None:
    for error in (ValidationError, ConfigError, NotFoundError, ProviderError, StorageError):
        assert issubclass(error, EngramError)


def test_provider_errors_name_provider_model_and_status() -> None:
    error = ProviderError("rate limited", provider="openai", model="gpt-4.1-mini", status_code=429, retryable=True)
    assert str(error) == "openai model 'gpt-4.1-mini' (HTTP 429): rate limited"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"llm": {"provider": "nope"}}, "unknown LLM provider 'nope'"),
        ({"embedder": {"provider": "nope"}}, "unknown embedder provider 'nope'"),
        ({"vector_store": {"provider": "nope"}}, "unknown vector_store provider 'nope'"),
        ({"vector_store": {"provider": "sqlite", "config": {"colour": "red"}}}, "unknown settings .* colour"),
        ({"llm": {"model": "gpt"}}, r"llm.provider: Field required"),
        ({"typo_key": 1}, "typo_key: Extra inputs are not permitted"),
        ({"embedder": {"provider": "hashing", "config": {"dims": 3}}}, "invalid settings for embedder"),
    ],
)
def test_bad_config_raises_config_error(tmp_path: Path, config: dict[str, object], message: str) -> None:
    config.setdefault("vector_store", {"provider": "sqlite", "config": {"path": str(tmp_path / "x.db")}})
    with pytest.raises(ConfigError, match=message):
        Memory(config)


def test_mem0_style_config_keys_are_accepted(tmp_path: Path) -> None:
    memory = Memory.from_config(
        {
            "version": "v1.1",
            "history_db_path": str(tmp_path / "history.db"),
            "embedder": {"provider": "hashing", "config": {"dimension": 64}},
            "custom_fact_extraction_prompt": "...",
            "custom_update_memory_prompt": "...",
        }
    )
    assert memory.store.location == str(tmp_path / "history.db")


def test_the_default_path_follows_engram_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGRAM_HOME", str(tmp_path))
    monkeypatch.delenv("ENGRAM_DB_PATH", raising=False)
    with Memory({"embedder": {"provider": "hashing"}}) as memory:
        assert memory.store.location == str(tmp_path / "engram.db")


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ("", "empty string"),
        ([], "non-empty list"),
        (42, "must be a string"),
        ([{"role": "robot", "content": "x"}], "role 'robot'"),
        ([{"role": "user"}], "needs 'content'"),
        ([{"role": "user", "content": [{"type": "audio"}]}], "type 'audio'"),
        ([{"role": "system", "content": "only a system prompt"}], "nothing to store"),
    ],
)
def test_bad_messages_raise_validation_errors(memory: Memory, messages: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        memory.add(messages, user_id="u", infer=False)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit must be an integer"),
        ({"limit": "5"}, "limit must be an integer"),
        ({"threshold": "high"}, "threshold must be a number"),
        ({"rerank": True}, "needs a reranker"),
    ],
)
def test_bad_search_arguments(memory: Memory, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(EngramError, match=message):
        memory.search("x", user_id="u", **kwargs)  # type: ignore[arg-type]


def test_bad_metadata_is_rejected_before_anything_is_written(memory: Memory) -> None:
    with pytest.raises(ValidationError, match="JSON-serialisable"):
        memory.add("x", user_id="u", infer=False, metadata={"when": object()})
    assert memory.get_all(user_id="u")["results"] == []


def test_importing_engram_exports_the_public_api() -> None:
    assert {"Memory", "AsyncMemory", "EngramError", "ValidationError"} <= set(engram.__all__)


CONFIG_FILES = {
    "engram.toml": '[embedder]\nprovider = "hashing"\n[embedder.config]\ndimension = 32\n'
    '[vector_store]\nprovider = "sqlite"\n[vector_store.config]\npath = "{db}"\n',
    "engram.yaml": "embedder:\n  provider: hashing\n  config: {{dimension: 32}}\n"
    "vector_store:\n  provider: sqlite\n  config: {{path: '{db}'}}\n",
    "engram.json": '{{"embedder": {{"provider": "hashing", "config": {{"dimension": 32}}}}, '
    '"vector_store": {{"provider": "sqlite", "config": {{"path": "{db}"}}}}}}',
}


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_config_files_in_toml_yaml_and_json(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(CONFIG_FILES[name].format(db=tmp_path / "file.db"))
    with Memory.from_config(path) as memory:
        assert memory.embedder.dimension == 32
        assert memory.store.location == str(tmp_path / "file.db")


def test_engram_config_names_the_default_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "engram.toml"
    path.write_text(CONFIG_FILES["engram.toml"].format(db=tmp_path / "env.db"))
    monkeypatch.setenv("ENGRAM_CONFIG", str(path))
    with Memory() as memory:
        assert memory.store.location == str(tmp_path / "env.db")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.toml", None, "cannot read the config file"),
        ("bad.toml", "embedder = [", "not valid TOML"),
        ("bad.json", "{", "not valid JSON"),
        ("list.json", "[1]", "mapping of settings"),
        ("engram.ini", "[x]", "use a .toml"),
    ],
)
def test_bad_config_files_say_what_is_wrong(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        Memory.from_config(path)


def test_a_database_in_a_folder_that_cannot_be_created_is_an_engram_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    config = {"embedder": {"provider": "hashing"}}
    with pytest.raises(EngramError, match="a-file"):
        Memory({**config, "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "a-file/x/e.db")}}})


@pytest.mark.parametrize(("given", "pragma"), [(None, 1), ("normal", 1), ("full", 2), ("FULL", 2)])
def test_sqlite_commits_can_be_made_to_survive_a_power_cut(tmp_path: Path, given: str | None, pragma: int) -> None:
    settings: dict[str, object] = {"path": str(tmp_path / "e.db")}
    if given is not None:
        settings["synchronous"] = given
    with Memory({"embedder": {"provider": "hashing"}, "vector_store": {"provider": "sqlite", "config": settings}}) as m:
        assert m.store.database.connection.execute("PRAGMA synchronous").fetchone()[0] == pragma  # type: ignore[attr-defined]


def test_an_unknown_synchronous_setting_is_a_config_error(tmp_path: Path) -> None:
    settings = {"path": str(tmp_path / "e.db"), "synchronous": "off"}
    with pytest.raises(ConfigError, match="synchronous must be one of normal, full"):
        Memory({"embedder": {"provider": "hashing"}, "vector_store": {"provider": "sqlite", "config": settings}})


def test_every_lifecycle_verb_checks_its_text_before_any_work(tmp_path: Path) -> None:
    with Memory(
        {
            "embedder": {"provider": "hashing"},
            "vector_store": {"provider": "sqlite", "config": {"path": str(tmp_path / "e.db")}},
        }
    ) as m:
        for call in (
            lambda: m.export_jsonl(tmp_path / "x.jsonl", user_id="\ud800"),
            lambda: m.consolidate(user_id="\ud800"),
            lambda: m.import_jsonl("\ud800.jsonl"),
            lambda: m.stats(user_id="\x00"),
        ):
            with pytest.raises(ValidationError):
                call()
