"""Writing a run's results: JSON, a markdown table and PNG plots."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engram.eval.locomo import CATEGORIES
from engram.eval.metrics import RECALL_KS, summarise

if TYPE_CHECKING:
    from engram.eval.runner import EvalRun

RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
RECALL_PNG = "recall_by_category.png"
LATENCY_PNG = "latency.png"


def summary_of(run: EvalRun) -> dict[str, Any]:
    """Overall and per-category averages, plus what the run was."""
    per_category = {
        str(category): {
            "name": CATEGORIES[category],
            **summarise([r for r in run.rows if r["category"] == category]),
        }
        for category in sorted({row["category"] for row in run.rows})
    }
    return {
        "options": asdict(run.options),
        "overall": summarise(run.rows),
        "by_category": per_category,
        "ingest": {"seconds": run.ingest_seconds, "memories_added": run.memories_added},
    }


def markdown_table(summary: dict[str, Any]) -> str:
    """Rows: overall, then each category. Columns: the scores the run has."""
    overall = summary["overall"]
    columns = [f"recall@{k}" for k in RECALL_KS] + ["mrr"]
    columns += [c for c in ("judge", "f1", "bleu1", "tokens") if c in overall]
    columns += [c for c in ("search_ms_p50", "search_ms_p95", "answer_ms_p50", "answer_ms_p95") if c in overall]
    lines = [
        "| category | questions | " + " | ".join(columns) + " |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    rows = [("overall (1–4)", overall)]
    rows += [(f"{key} {value['name']}", value) for key, value in summary["by_category"].items()]
    for label, values in rows:
        cells = [_cell(values.get(column)) for column in columns]
        lines.append(f"| {label} | {values['questions']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) and value < 100 else f"{value:.0f}"


def write_reports(run: EvalRun) -> dict[str, Any]:
    summary = summary_of(run)
    out = run.out_dir
    (out / RESULTS_JSON).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    options = run.options
    header = (
        f"# LoCoMo evaluation\n\ndataset: `{Path(options.dataset).name}`, infer={options.infer}, "
        f"k={options.k}, conversations: {', '.join(options.conversations or ('all',))}\n\n"
    )
    (out / RESULTS_MD).write_text(header + markdown_table(summary), encoding="utf-8")
    write_plots(run, summary)
    return summary


def write_plots(run: EvalRun, summary: dict[str, Any]) -> None:
    """Per-category recall bars and a latency histogram (matplotlib, from the ``eval`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: never open a window
        import matplotlib.pyplot as plt
    except ImportError:
        return  # the JSON and markdown results are complete without pictures
    categories = summary["by_category"]
    labels = ["overall", *(value["name"] for value in categories.values())]
    groups = [summary["overall"], *categories.values()]
    figure, axes = plt.subplots(figsize=(8, 4))
    width = 0.8 / (len(RECALL_KS) + 1)
    for offset, metric in enumerate([*(f"recall@{k}" for k in RECALL_KS), "mrr"]):
        values = [group.get(metric, 0.0) for group in groups]
        axes.bar([i + offset * width for i in range(len(groups))], values, width, label=metric)
    axes.set_xticks([i + width * len(RECALL_KS) / 2 for i in range(len(groups))], labels)
    axes.set_ylim(0, 1)
    axes.set_ylabel("score")
    axes.set_title("Retrieval on LoCoMo by question category")
    # Below the axes, so that no bar hides behind it.
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(RECALL_KS) + 1, fontsize="small")
    figure.tight_layout()
    figure.savefig(run.out_dir / RECALL_PNG, dpi=100)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(8, 4))
    for key, label in (("search_ms", "search"), ("answer_ms", "answer")):
        values = [row[key] for row in run.rows if row.get(key) is not None]
        if values:
            axes.hist(values, bins=40, alpha=0.7, label=f"{label} (n={len(values)})")
    axes.set_xlabel("milliseconds (search includes embedding the question)")
    axes.set_ylabel("questions")
    axes.set_title("Latency per question")
    axes.legend()
    figure.tight_layout()
    figure.savefig(run.out_dir / LATENCY_PNG, dpi=100)
    plt.close(figure)
