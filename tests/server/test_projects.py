"""One Memory per project, with a bounded number of idle ones kept open."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engram.config import MemoryConfig
from engram.embedders.hashing import HashingEmbedder
from engram.errors import ConfigError, ValidationError
from engram.server.projects import (
    ProjectMemories,
    on_database_from_environment,
    project_schema,
    server_schema,
    store_config_for,
)
from engram.storage import DATABASE_URL_ENV


def memories(tmp_path: Path, max_open: int = 256) -> ProjectMemories:
    return ProjectMemories(None, tmp_path, embedder=HashingEmbedder(), max_open=max_open)


def test_each_project_has_its_own_store_file(tmp_path: Path) -> None:
    projects = memories(tmp_path)
    with projects.lease("shop") as shop, projects.lease("blog") as blog:
        memory_id = shop.add("I like tea", user_id="u", infer=False)["results"][0]["id"]
        assert blog.get(memory_id) is None
    assert sorted(p.name for p in (tmp_path / "projects").glob("*.db")) == ["blog.db", "shop.db"]
    projects.close()


def test_idle_projects_beyond_the_bound_are_closed_and_reopen_intact(tmp_path: Path) -> None:
    projects = memories(tmp_path, max_open=2)
    for name in ("a", "b", "c"):
        with projects.lease(name) as memory:
            memory.add(f"memory of {name}", user_id="u", infer=False)
    assert projects.open_projects() == ["b", "c"]
    with projects.lease("a") as memory:
        assert [m["memory"] for m in memory.get_all(user_id="u")["results"]] == ["memory of a"]
    assert projects.open_projects() == ["c", "a"]
    projects.close()
    assert projects.open_projects() == []


def test_a_project_in_use_is_never_closed(tmp_path: Path) -> None:
    projects = memories(tmp_path, max_open=1)
    with projects.lease("busy") as busy:
        for name in ("x", "y"):
            with projects.lease(name):
                pass
        assert "busy" in projects.open_projects()
        busy.add("still open", user_id="u", infer=False)
    projects.close()


def test_bad_project_names_and_stores_are_refused(tmp_path: Path) -> None:
    projects = memories(tmp_path)
    with pytest.raises(ValidationError), projects.lease("../escape"):
        pass
    with pytest.raises(ConfigError, match="sqlite or pgvector"):
        ProjectMemories({"vector_store": {"provider": "qdrant"}}, tmp_path, embedder=HashingEmbedder())


def test_on_postgres_each_project_gets_its_own_schema(tmp_path: Path) -> None:
    config = MemoryConfig.parse({"vector_store": {"provider": "pgvector", "config": {"url": "postgresql://h/db"}}})
    store = store_config_for(config, tmp_path, "shop-eu")
    assert store.provider == "pgvector"
    assert store.config["url"] == "postgresql://h/db"
    assert re.fullmatch(r"engram_shop_eu_[0-9a-f]{8}", store.config["schema"])


@pytest.mark.parametrize("base", ["public", "tenant", "s" * 40])
def test_project_schemas_are_distinct_identifiers(base: str) -> None:
    names = ["a-b", "a_b", "x" * 64, "x" * 63 + "y", "0day"]
    schemas = [project_schema(base, name) for name in names]
    assert len(set(schemas)) == len(names)
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema) for schema in schemas)


def test_engram_database_url_puts_each_project_in_a_postgres_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://h/db")
    config = on_database_from_environment(MemoryConfig.parse({"embedder": {"provider": "hashing"}}))
    store = store_config_for(config, tmp_path, "shop")
    assert (store.provider, store.config["url"]) == ("pgvector", "postgresql://h/db")
    assert store.config["schema"] == project_schema("engram", "shop")
    assert server_schema("engram") == "engram_server" != project_schema("engram", "server")


def test_a_config_naming_sqlite_stays_on_sqlite_despite_engram_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://h/db")
    config = on_database_from_environment(MemoryConfig.parse({"vector_store": {"provider": "sqlite"}}))
    assert store_config_for(config, tmp_path, "shop").provider == "sqlite"
