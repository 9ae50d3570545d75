"""``engram eval updates``: the scoring rules of memory-updates.md, and the runner around them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engram.cli import main
from engram.errors import ValidationError
from engram.eval.updates import Probe, load_scenarios, matches, passes, run_updates


def probe(kind: str, expect: list[list[str]] | None = None, reject: list[list[str]] | None = None) -> Probe:
    return Probe(kind, "question?", expect, reject, "2025-03-01" if kind == "as_of" else None)


# -- keyword matching ---------------------------------------------------------------------------


def test_an_alternative_needs_all_its_keywords_in_one_memory_case_insensitively() -> None:
    assert matches("Tomás moved to ZARAGOZA", [["zaragoza", "tomás"]])
    assert not matches("Tomás moved", [["zaragoza", "tomás"]])
    assert matches("Lives in Saragossa", [["Zaragoza"], ["Saragossa"]])  # any alternative
    assert matches("pharmacist", [["pharmac"]])  # substrings, no other normalisation
    assert not matches("Malmo", [["Malmö"]])
    assert not matches("anything", None)


# -- current and as_of: the top 3 hits -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["current", "as_of"])
def test_a_search_probe_needs_an_expected_hit(kind: str) -> None:
    p = probe(kind, expect=[["Zaragoza"]], reject=[["Valencia"]])
    assert passes(p, ["Lives in Zaragoza", "Likes jazz"], [])
    assert not passes(p, ["Likes jazz"], ["Lives in Zaragoza"])  # get_all does not count


@pytest.mark.parametrize("kind", ["current", "as_of"])
def test_a_search_probe_fails_on_a_rejected_hit_unless_it_also_matches_expect(kind: str) -> None:
    p = probe(kind, expect=[["Zaragoza"]], reject=[["Valencia"]])
    assert not passes(p, ["Lives in Zaragoza", "Lives in Valencia"], [])
    assert passes(p, ["Moved from Valencia to Zaragoza"], [])  # history mentioned beside the answer


# -- survives and forgotten: every current memory -----------------------------------------------


def test_a_survives_probe_looks_at_every_current_memory() -> None:
    p = probe("survives", expect=[["lactose"]])
    assert passes(p, [], ["Works as a sound engineer", "Is lactose intolerant"])
    assert not passes(p, ["Is lactose intolerant"], ["Works as a sound engineer"])


def test_a_forgotten_probe_fails_while_any_current_memory_holds_the_value() -> None:
    p = probe("forgotten", reject=[["K7741920"]])
    assert passes(p, ["Passport K7741920"], ["Lives in Porto"])  # search hits do not count
    assert not passes(p, [], ["Lives in Porto", "passport number is k7741920"])


# -- the runner ---------------------------------------------------------------------------------


def scenario(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "maya-moves",
        "tags": ["update"],
        "scope": {"user_id": "maya"},
        "sessions": [
            {"timestamp": "2025-01-10T10:00:00", "messages": [{"role": "user", "content": "I live in Lisbon."}]},
            {"timestamp": "2025-04-02T10:00:00", "messages": [{"role": "user", "content": "I moved to Porto!"}]},
        ],
        "probes": [
            {"kind": "current", "query": "Where does Maya live?", "expect": [["Porto"]], "reject": [["Lisbon"]]},
            {"kind": "as_of", "as_of": "2025-02-01", "query": "Where did Maya live?", "expect": [["Lisbon"]]},
            {"kind": "survives", "query": "Where did Maya live?", "expect": [["Lisbon"]]},
            {"kind": "forgotten", "query": "Maya's bank?", "reject": [["IBAN"]]},
        ],
    }
    return base | overrides


@pytest.fixture
def scenarios_file(tmp_path: Path) -> Path:
    path = tmp_path / "updates.json"
    path.write_text(json.dumps([scenario()]))
    return path


def test_verbatim_memory_keeps_everything_and_is_scored_per_kind(scenarios_file: Path, tmp_path: Path) -> None:
    run = run_updates(scenarios_file, tmp_path / "out", infer=False, progress=False)
    passed = {row["kind"]: row["passed"] for row in run.rows}
    # Both cities are current: the old one is among the top 3, so "current" fails.
    assert passed == {"current": False, "as_of": passed["as_of"], "survives": True, "forgotten": True}
    summary = json.loads((tmp_path / "out" / "results.json").read_text())
    assert summary["per_add"]["adds"] == 2 and summary["per_add"]["llm_calls"] == 0
    assert summary["by_kind"]["survives"]["pass_rate"] == 1.0
    assert (tmp_path / "out" / "pass_rate_by_kind.png").read_bytes().startswith(b"\x89PNG")
    assert "Failed probes" in (tmp_path / "out" / "results.md").read_text()


def test_a_run_resumes_without_adding_a_session_twice(scenarios_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_updates(scenarios_file, out, infer=False, progress=False)
    again = run_updates(scenarios_file, out, infer=False, progress=False)
    assert len(again.adds) == len(first.adds) == 2
    assert len(again.rows) == 4
    with pytest.raises(ValidationError, match="other options"):
        run_updates(scenarios_file, out, infer=True, progress=False, config={"llm": {"provider": "scripted"}})


def test_a_bad_file_says_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([scenario(probes=[{"kind": "someday", "query": "?"}])]))
    with pytest.raises(ValidationError, match="unknown kind 'someday'"):
        load_scenarios(path)


def test_the_cli_prints_the_table(scenarios_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "updates", str(scenarios_file), "--no-infer", "--out", str(tmp_path / "o"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "| current | as_of | survives | forgotten | overall | s/add | calls/add | tokens/add |" in printed


def test_the_cli_counts_llm_calls_per_add(scenarios_file: Path, tmp_path: Path) -> None:
    answers = ['{"facts": [{"text": "Maya lives in Lisbon", "sources": [0]}]}', '{"facts": []}']
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"llm": {"provider": "scripted", "config": {"answers": answers}}}))
    out = tmp_path / "o"
    assert main(["eval", "updates", str(scenarios_file), "--config", str(config), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "results.json").read_text())
    assert summary["per_add"]["llm_calls"] == 1.0
    assert summary["per_add"]["tokens"] > 0
    assert summary["by_kind"]["survives"]["pass_rate"] == 1.0
