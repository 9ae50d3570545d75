"""The docs stay true: the README's links resolve, every `engram` command the docs show exists, and
install lines name the distribution (`engramdb`), not the import name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engram.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_link_of_the_readme_and_docs_resolves() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_the_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in (ROOT / "docs").glob("*.md"):
        assert f"docs/{page.name}" in readme, f"the README does not link docs/{page.name}"


def shown_commands() -> set[str]:
    commands = set()
    for page in PAGES:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(), re.DOTALL):
            commands |= set(re.findall(r"(?:^|&& |/)engram ([a-z]+)", block, re.MULTILINE))
    return commands


@pytest.mark.parametrize("command", sorted(shown_commands()))
def test_every_command_the_docs_show_exists(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0, capsys.readouterr().err


def test_install_lines_use_the_distribution_name() -> None:
    for page in [*PAGES, ROOT / "pyproject.toml"]:
        assert not re.search(r"""['"`]engram\[""", page.read_text()), f"{page.name} installs 'engram[...]'"
    assert 'name = "engramdb"' in (ROOT / "pyproject.toml").read_text()


def test_the_architecture_page_holds_the_contract_sections_the_code_cites() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    for section in ("## 1. The Python API", "## 1b. Time", "## 1c. Graph", "## 1d. Portability", "## 2. The memory"):
        assert section in page
