"""The examples of the README and docs/cli.md run as written, offline, on a fresh store.

Nothing is configured but a temporary store (``ENGRAM_HOME``, ``ENGRAM_DB_PATH``) and, for speed, the
hashing embedder (``ENGRAM_CONFIG``); no LLM (``ENGRAM_LOCAL_MODEL=off``, no provider key). A line that
needs what is not there (an LLM, mem0) must fail the way the docs say: one clear line naming what to
set up. Other pages' claims checked here: every MCP tool is listed in docs/server.md, and the mem0
configs docs/configuration.md says are refused are refused.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engram import ConfigError, Memory
from provider_env import PROVIDER_VARIABLES

ROOT = Path(__file__).resolve().parents[1]
NO_LLM = "needs an LLM and none is configured"
VENV_BIN = Path(sys.executable).parent  # where the venv's `engram` script is


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh store in ``tmp_path`` (also the working directory), offline; the environment to run in."""
    config = tmp_path / "engram.json"
    config.write_text(json.dumps({"embedder": {"provider": "hashing"}}))
    settings = {
        "ENGRAM_HOME": str(tmp_path),
        "ENGRAM_DB_PATH": str(tmp_path / "engram.db"),
        "ENGRAM_CONFIG": str(config),
        "ENGRAM_LOCAL_MODEL": "off",
    }
    for name in [*PROVIDER_VARIABLES, "ENGRAM_SERVER_URL", "ENGRAM_DATABASE_URL"]:
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def code_blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(), re.DOTALL)


# -- the README's Python --------------------------------------------------------------------------


def test_the_readme_python_snippet_runs_as_written(offline: dict[str, str]) -> None:
    """Each statement runs in order; the one marked "an LLM extracts facts" fails, with no LLM, with
    a ConfigError that says how to configure one (as the line after it says)."""
    [snippet] = [block for block in code_blocks(ROOT / "README.md", "python") if "Memory()" in block]
    lines = snippet.splitlines()
    namespace: dict[str, Any] = {}
    needs_llm = 0
    for statement in ast.parse(snippet).body:
        code = compile(ast.Module([statement], type_ignores=[]), "README.md", "exec")
        if "an LLM extracts facts" in lines[statement.lineno - 1]:
            needs_llm += 1
            with pytest.raises(ConfigError, match=NO_LLM):
                exec(code, namespace)
        else:
            exec(code, namespace)
    assert needs_llm == 1
    memory: Memory = namespace["m"]
    assert [row["event"] for row in memory.history(namespace["memory_id"])] == ["ADD", "UPDATE", "DELETE"]
    assert json.loads(Path("alice.jsonl").read_text().splitlines()[0])["format"] == "engram-export"


# -- the shell examples ---------------------------------------------------------------------------


def run(line: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, timeout=120)


def test_the_readme_shell_examples_run_as_written(offline: dict[str, str]) -> None:
    block = next(b for b in code_blocks(ROOT / "README.md", "bash") if "engram add" in b)
    for line in block.strip().splitlines():
        done = run(line, offline)
        assert done.returncode == 0, f"{line}\n{done.stderr}"
    assert Path("backup.jsonl").exists()


# What the docs/cli.md examples need that an offline machine does not have: the one line they print.
NEEDS = {
    "engram add --messages chat.json --user-id alice": NO_LLM,
    "engram import --from-mem0 mem0-config.json": "pip install mem0ai",
}


def test_the_cli_examples_run_as_written(offline: dict[str, str]) -> None:
    """Every line of docs/cli.md's first block, with ``ID`` (the page says so) the id of the memory
    the first line stored."""
    Path("chat.json").write_text(json.dumps([{"role": "user", "content": "I'm vegetarian since 2019"}]))
    Path("mem0-config.json").write_text("{}")
    [block, *_] = code_blocks(ROOT / "docs" / "cli.md", "bash")
    lines = block.strip().splitlines()
    first = run(lines[0] + " --json", offline)
    memory_id = json.loads(first.stdout)["results"][0]["id"]
    for line in lines[1:]:
        command = re.sub(r"\bID\b", memory_id, line.split("  #")[0].strip())
        done = run(command, offline)
        if command in NEEDS:
            assert done.returncode == 1 and done.stderr.count("\n") == 1, f"{command}\n{done.stderr}"
            assert NEEDS[command] in done.stderr
        else:
            assert done.returncode == 0, f"{command}\n{done.stderr}"
    assert run(f"engram get {memory_id}", offline).returncode == 1  # `engram delete ID` deleted it
    assert json.loads(Path("alice.jsonl").read_text().splitlines()[0])["format"] == "engram-export"


# -- claims of other pages ---------------------------------------------------------------------------


def test_server_md_lists_every_mcp_tool() -> None:
    from engram.mcp import TOOL_NAMES

    page = (ROOT / "docs" / "server.md").read_text()
    assert [name for name in TOOL_NAMES if f"`{name}`" not in page] == []
    assert f"serves {len(TOOL_NAMES)} tools" in page.replace("nine", "9")


REFUSED = {
    "qdrant": {"vector_store": {"provider": "qdrant", "config": {"collection_name": "mem0"}}},
    "mem0's pgvector keys": {
        "vector_store": {
            "provider": "pgvector",
            "config": {"url": "postgresql://u@h/db", "collection_name": "mem0", "embedding_model_dims": 1536},
        }
    },
    "a Hugging Face hub id": {
        "embedder": {"provider": "huggingface", "config": {"model": "multi-qa-MiniLM-L6-cos-v1"}}
    },
    "aws_bedrock": {"llm": {"provider": "aws_bedrock", "config": {"model": "anthropic.claude-v2"}}},
    "azure_openai embedder": {"embedder": {"provider": "azure_openai", "config": {"model": "text-embedding-3-small"}}},
    "neo4j": {"graph_store": {"provider": "neo4j", "config": {"url": "bolt://localhost:7687"}}},
}


@pytest.mark.parametrize("config", REFUSED.values(), ids=list(REFUSED))
def test_the_mem0_configs_configuration_md_calls_refused_are_refused(
    config: dict[str, Any], tmp_path: Path, offline: dict[str, str]
) -> None:
    base = {"embedder": {"provider": "hashing"}, "vector_store": {"provider": "sqlite", "config": {"path": "e.db"}}}
    with pytest.raises(ConfigError):
        Memory.from_config({**base, **config})
