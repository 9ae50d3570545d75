"""The memory-updates benchmark: does stored knowledge stay correct as a conversation goes on?

The data format and the scoring rules are those of ``memory-updates.md`` (shipped beside the
data, not with engram). For each scenario, every session is one ``add`` with the session's
time as ``timestamp``; the probes then run against the final state:

- ``current``: ``search(query, limit=3)``; some hit matches ``expect`` and no hit matches
  ``reject`` without also matching ``expect``;
- ``as_of``: the same with ``search(..., as_of=date)``; a memory that cannot search as of a
  date fails these probes (the row says ``unsupported``);
- ``survives``: some current memory (``get_all``) matches ``expect``;
- ``forgotten``: no current memory matches ``reject``.

A run writes into one folder, which makes it resumable: ``engram.db`` (the memories),
``checkpoint.json`` (options, sessions added, cost per add), ``probes.jsonl`` (one scored
row per probe), then ``results.json``, ``results.md`` and ``pass_rate_by_kind.png``.
A scenario's probes run once its last session is added, so an interrupted run carries on
with the next session and never adds one twice (unless it was killed inside that ``add``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from engram.errors import ValidationError
from engram.eval.runner import memory_for, progress_bar, read_rows, select_by_id

if TYPE_CHECKING:
    from engram.llms import LLM
    from engram.memory import Memory

KINDS = ("current", "as_of", "survives", "forgotten")
SEARCH_LIMIT = 3  # the rules score the top 3 hits
ALL_LIMIT = 10_000  # get_all: every current memory of the scope
CHECKPOINT = "checkpoint.json"
PROBES = "probes.jsonl"
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
PLOT_PNG = "pass_rate_by_kind.png"

T = TypeVar("T")
Alternatives = list[list[str]]


# -- the data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    kind: str
    query: str
    expect: Alternatives | None = None
    reject: Alternatives | None = None
    as_of: str | None = None


@dataclass(frozen=True)
class Scenario:
    id: str
    scope: dict[str, Any]
    sessions: tuple[tuple[str, tuple[dict[str, Any], ...]], ...]  # (timestamp, messages)
    probes: tuple[Probe, ...]
    tags: tuple[str, ...] = ()


def load_scenarios(path: str | Path) -> list[Scenario]:
    """Every scenario of a memory-updates JSON file, checked."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"cannot read memory-updates file {path}: {exc}") from exc
    if not isinstance(data, list):
        raise ValidationError(f"{path}: a memory-updates file is a JSON list of scenarios")
    scenarios = [_scenario(item, path) for item in data]
    ids = [s.id for s in scenarios]
    if len(set(ids)) != len(ids):
        raise ValidationError(f"{path}: scenario ids must be unique")
    return scenarios


def _scenario(item: Any, path: str | Path) -> Scenario:
    try:
        probes = tuple(
            Probe(p["kind"], p["query"], p.get("expect"), p.get("reject"), p.get("as_of")) for p in item["probes"]
        )
        sessions = tuple((str(s["timestamp"]), tuple(s["messages"])) for s in item["sessions"])
        scenario = Scenario(str(item["id"]), dict(item["scope"]), sessions, probes, tuple(item.get("tags", ())))
    except (KeyError, TypeError) as exc:
        raise ValidationError(f"{path}: a scenario lacks {exc} (see memory-updates.md for the format)") from exc
    for probe in scenario.probes:
        if probe.kind not in KINDS:
            raise ValidationError(f"{path}: scenario {scenario.id} has a probe of unknown kind {probe.kind!r}")
        if probe.kind == "as_of" and not probe.as_of:
            raise ValidationError(f"{path}: scenario {scenario.id} has an as_of probe without a date")
    return scenario


# -- the scoring rules (memory-updates.md, exactly) ----------------------------------------------


def matches(text: str, alternatives: Alternatives | None) -> bool:
    """Some alternative has all its keywords in ``text`` (case-insensitive substrings)."""
    lowered = text.lower()
    return any(all(keyword.lower() in lowered for keyword in alt) for alt in alternatives or [])


def passes(probe: Probe, results: Sequence[str], all_current: Sequence[str]) -> bool:
    """``results``: the texts of the top-3 search hits; ``all_current``: every current memory."""
    expect, reject = probe.expect, probe.reject
    if probe.kind in ("current", "as_of"):
        return any(matches(m, expect) for m in results) and not any(
            matches(m, reject) and not matches(m, expect) for m in results
        )
    if probe.kind == "survives":
        return any(matches(m, expect) for m in all_current)
    return not any(matches(m, reject) for m in all_current)  # forgotten


# -- running it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdatesOptions:
    """What a run measures; a resumed run must use the same options."""

    dataset: str
    infer: bool = True
    scenarios: tuple[str, ...] | None = None
    llm: str | None = None  # the LLM's provider and model, for the report


@dataclass
class UpdatesRun:
    options: UpdatesOptions
    out_dir: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    adds: list[dict[str, Any]] = field(default_factory=list)  # one per session: seconds, calls, tokens


def run_updates(
    dataset: str | Path,
    out_dir: str | Path,
    *,
    memory: Memory | None = None,
    infer: bool = True,
    scenarios: Sequence[str] | None = None,
    progress: bool = True,
    config: Mapping[str, Any] | None = None,
    llm: LLM | None = None,
) -> UpdatesRun:
    """Add every scenario's sessions, score its probes, and write the reports into ``out_dir``.

    Without ``memory``, a ``Memory`` built from ``config`` (a ``Memory.from_config`` dict) and
    ``llm`` (when given) is used, with its database at ``out_dir/engram.db``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    selected = select_by_id(load_scenarios(dataset), scenarios or None, lambda s: s.id, "scenario")
    with memory_for(out, memory, config, llm) as memory:
        options = UpdatesOptions(
            dataset=str(Path(dataset).resolve()),
            infer=infer,
            scenarios=tuple(scenarios) if scenarios else None,
            llm=_llm_name(memory) if infer else None,
        )
        checkpoint = _Checkpoint.open(out / CHECKPOINT, options)
        rows = _add_and_score(memory, selected, infer, checkpoint, out / PROBES, progress)
        wanted = {s.id for s in selected}
        _write_misses(llm, out)
        run = UpdatesRun(options, out, [r for r in rows if r["scenario"] in wanted])
        run.adds = [a for a in checkpoint.adds if a["scenario"] in wanted]
    write_reports(run)
    return run


def _add_and_score(
    memory: Memory,
    selected: Sequence[Scenario],
    infer: bool,
    checkpoint: _Checkpoint,
    probes: Path,
    progress: bool,
) -> list[dict[str, Any]]:
    """Add the sessions not added yet, and score each scenario as soon as its last session is in.
    A scenario whose rows did not all survive an interruption is scored again."""
    probes_of = {s.id: len(s.probes) for s in selected}
    read = read_rows(probes)
    scored = {s for s, n in probes_of.items() if sum(r["scenario"] == s for r in read) == n}
    rows = [r for r in read if r["scenario"] in scored]
    probes.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    todo = [(s, i) for s in selected for i in range(len(s.sessions)) if not checkpoint.done(s.id, i)]
    with probes.open("a", encoding="utf-8") as sink:

        def score(scenario: Scenario) -> None:
            new_rows = score_scenario(memory, scenario)
            sink.write("".join(json.dumps(row) + "\n" for row in new_rows))
            sink.flush()
            rows.extend(new_rows)
            scored.add(scenario.id)

        for scenario, index in progress_bar(todo, progress, "add"):
            _add_session(memory, scenario, index, infer, checkpoint)
            if index == len(scenario.sessions) - 1:  # its final state: probe it now
                score(scenario)
        for scenario in selected:
            if scenario.id not in scored:
                score(scenario)
    return rows


def _write_misses(llm: LLM | None, out: Path) -> None:
    """The decisions an ideal model could not name a memory for (``eval/ideal.py``): ranking faults."""
    misses = getattr(llm, "misses", None)
    if misses is not None:
        rows = [asdict(miss) for miss in misses]
        (out / "ideal_misses.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")


def _llm_name(memory: Memory) -> str:
    llm = memory.llm  # fails early with the ConfigError's advice when no LLM is configured
    return f"{getattr(llm, 'provider', type(llm).__name__)}:{getattr(llm, 'model_name', '?')}"


def _add_session(memory: Memory, scenario: Scenario, index: int, infer: bool, checkpoint: _Checkpoint) -> None:
    timestamp, messages = scenario.sessions[index]
    before = memory.usage
    started = time.perf_counter()
    result = memory.add(list(messages), **scenario.scope, infer=infer, timestamp=timestamp)
    seconds = time.perf_counter() - started
    spent = memory.usage
    events: dict[str, int] = {}
    for item in result.get("results", []):
        events[item["event"]] = events.get(item["event"], 0) + 1
    checkpoint.mark(
        {
            "scenario": scenario.id,
            "session": index,
            "seconds": seconds,
            "calls": spent.calls - before.calls,
            "tokens": spent.total_tokens - before.total_tokens,
            "events": events,
            "warnings": list(result.get("warnings", [])),
        }
    )


def score_scenario(memory: Memory, scenario: Scenario) -> list[dict[str, Any]]:
    """One scored row per probe, against the memory's current state of the scenario's scope."""
    current = [item["memory"] for item in memory.get_all(**scenario.scope, limit=ALL_LIMIT)["results"]]
    rows = []
    for index, probe in enumerate(scenario.probes):
        row: dict[str, Any] = {"scenario": scenario.id, "index": index, **asdict(probe)}
        hits: list[str] = []
        if probe.kind == "current":
            hits = _search(memory, scenario, probe.query)
        elif probe.kind == "as_of":
            try:
                hits = _search(memory, scenario, probe.query, as_of=probe.as_of)
            except TypeError:  # a Memory without as_of: the rules count the probe as failed
                row["unsupported"] = True
        row["hits"] = hits
        if row.get("unsupported"):
            row["passed"] = False
        else:
            row["passed"] = passes(probe, hits, current)
        if not row["passed"] and probe.kind in ("survives", "forgotten"):
            row["current"] = current  # what the memory held, to see why
        rows.append(row)
    return rows


def _search(memory: Memory, scenario: Scenario, query: str, **extra: Any) -> list[str]:
    found = memory.search(query, **scenario.scope, limit=SEARCH_LIMIT, **extra)
    return [item["memory"] for item in found["results"]]


@dataclass
class _Checkpoint:
    path: Path
    options: dict[str, Any]
    adds: list[dict[str, Any]]

    @classmethod
    def open(cls, path: Path, options: UpdatesOptions) -> _Checkpoint:
        # Which scenarios are run may change between runs (a report on those done so far).
        wanted = {key: value for key, value in asdict(options).items() if key != "scenarios"}
        if not path.exists():
            checkpoint = cls(path, wanted, [])
            checkpoint.save()
            return checkpoint
        saved = json.loads(path.read_text(encoding="utf-8"))
        if {k: v for k, v in saved["options"].items() if k != "scenarios"} != wanted:
            raise ValidationError(
                f"{path.parent} holds a run with other options ({saved['options']}): "
                "give another output folder to start a new run"
            )
        return cls(path, wanted, saved["adds"])

    def done(self, scenario: str, session: int) -> bool:
        return any(a["scenario"] == scenario and a["session"] == session for a in self.adds)

    def mark(self, add: dict[str, Any]) -> None:
        self.adds.append(add)
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"options": self.options, "adds": self.adds}, indent=1), encoding="utf-8")
        tmp.replace(self.path)  # atomic: a crash never leaves half a checkpoint


# -- reports -------------------------------------------------------------------------------------


def summary_of(run: UpdatesRun) -> dict[str, Any]:
    """Pass rates per kind and overall (probes equally weighted), and the cost per add."""
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        rows = [r for r in run.rows if r["kind"] == kind]
        if rows:
            by_kind[kind] = {"probes": len(rows), "passed": sum(r["passed"] for r in rows)}
            by_kind[kind]["pass_rate"] = by_kind[kind]["passed"] / len(rows)
    passed = sum(r["passed"] for r in run.rows)
    adds = run.adds
    count = len(adds) or 1
    unsupported = sum(1 for r in run.rows if r.get("unsupported"))
    return {
        "options": asdict(run.options),
        "overall": {"probes": len(run.rows), "passed": passed, "pass_rate": passed / (len(run.rows) or 1)},
        "by_kind": by_kind,
        "as_of_unsupported": unsupported,
        "per_add": {
            "adds": len(adds),
            "seconds": sum(a["seconds"] for a in adds) / count,
            "llm_calls": sum(a["calls"] for a in adds) / count,
            "tokens": sum(a["tokens"] for a in adds) / count,
        },
    }


def markdown_table(summary: dict[str, Any]) -> str:
    cost = summary["per_add"]
    kinds = [k for k in KINDS if k in summary["by_kind"]]
    header = "| " + " | ".join([*kinds, "overall", "s/add", "calls/add", "tokens/add"]) + " |"
    cells = [f"{summary['by_kind'][k]['pass_rate']:.3f}" for k in kinds]
    cells += [f"{summary['overall']['pass_rate']:.3f}", f"{cost['seconds']:.1f}"]
    cells += [f"{cost['llm_calls']:.2f}", f"{cost['tokens']:.0f}"]
    counts = ", ".join(f"{k} {summary['by_kind'][k]['passed']}/{summary['by_kind'][k]['probes']}" for k in kinds)
    lines = [header, "|" + "---:|" * (len(kinds) + 4), "| " + " | ".join(cells) + " |", "", f"passed: {counts}"]
    if summary["as_of_unsupported"]:
        lines.append(f"\n{summary['as_of_unsupported']} as_of probes failed: this memory cannot search as of a date")
    return "\n".join(lines) + "\n"


def failures_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Each failed probe with what the memory answered."""
    lines = []
    for row in rows:
        if row["passed"]:
            continue
        when = f" as of {row['as_of']}" if row.get("as_of") else ""
        lines.append(f"- **{row['kind']}** `{row['scenario']}`: {row['query']}{when}")
        lines.append(f"  - expect {row.get('expect')}, reject {row.get('reject')}")
        shown = row.get("hits") if row["kind"] in ("current", "as_of") else row.get("current", [])
        for text in shown or ["(nothing)"]:
            lines.append(f"  - got: {text}")
    return "\n".join(lines) + "\n"


def write_reports(run: UpdatesRun) -> dict[str, Any]:
    summary = summary_of(run)
    out = run.out_dir
    (out / RESULTS_JSON).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    options = run.options
    header = (
        f"# memory-updates evaluation\n\ndataset: `{Path(options.dataset).name}`, infer={options.infer}, "
        f"llm: {options.llm or '-'}\n\n"
    )
    failures = "\n## Failed probes\n\n" + failures_markdown(run.rows)
    (out / RESULTS_MD).write_text(header + markdown_table(summary) + failures, encoding="utf-8")
    _plot(summary, out / PLOT_PNG)
    return summary


def _plot(summary: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return  # the JSON and markdown results are complete without a picture
    labels = [*summary["by_kind"], "overall"]
    values = [v["pass_rate"] for v in summary["by_kind"].values()] + [summary["overall"]["pass_rate"]]
    figure, axes = plt.subplots(figsize=(7, 3.5))
    axes.bar(labels, values, color=["#4c72b0"] * (len(labels) - 1) + ["#dd8452"])
    axes.set_ylim(0, 1)
    axes.set_ylabel("pass rate")
    cost = summary["per_add"]
    axes.set_title(
        f"memory-updates: {cost['seconds']:.1f} s, {cost['llm_calls']:.2f} calls, {cost['tokens']:.0f} tokens per add"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


__all__ = [
    "KINDS",
    "Probe",
    "Scenario",
    "UpdatesOptions",
    "UpdatesRun",
    "load_scenarios",
    "matches",
    "passes",
    "run_updates",
    "score_scenario",
]
