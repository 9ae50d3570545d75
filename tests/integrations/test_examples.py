"""Every example under examples/ runs as pasted, offline, and prints what its closing comment says."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.py"))


def expected_output(example: Path) -> list[str]:
    """The comment block that closes an example: the lines it prints."""
    lines = example.read_text(encoding="utf-8").rstrip().splitlines()
    block: list[str] = []
    while lines and lines[-1].startswith("# "):
        block.insert(0, lines.pop()[2:])
    return block


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.stem for example in EXAMPLES])
def test_the_example_prints_what_it_says(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # examples keep their database in the working directory
    wanted = expected_output(example)
    assert wanted, f"{example.name} must end with the output it prints, as comments"

    runpy.run_path(str(example), run_name="__main__")

    assert capsys.readouterr().out.splitlines() == wanted
