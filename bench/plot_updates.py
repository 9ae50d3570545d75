"""Several ``engram eval updates`` runs side by side: pass rate per kind of probe, one bar per run.

    .venv/bin/python bench/plot_updates.py OUT.png "infer=False=verbatim" "Qwen 0.5B=run-0.5b" ...

Each argument after the picture is ``LABEL=DIR``, DIR an ``--out`` folder of ``engram eval updates``
(its ``results.json``); the label may hold "=" itself, the folder is what follows the last one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the backend

KINDS = ("current", "as_of", "survives", "forgotten")


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    picture, runs = Path(sys.argv[1]), [argument.rsplit("=", 1) for argument in sys.argv[2:]]
    width = 0.8 / len(runs)
    figure, axes = plt.subplots(figsize=(8, 3.6))
    for i, (label, folder) in enumerate(runs):
        summary = json.loads((Path(folder) / "results.json").read_text(encoding="utf-8"))
        rates = [summary["by_kind"][kind]["pass_rate"] for kind in KINDS] + [summary["overall"]["pass_rate"]]
        positions = [k + (i - (len(runs) - 1) / 2) * width for k in range(len(rates))]
        axes.bar(positions, rates, width, label=label)
    axes.set_xticks(range(len(KINDS) + 1), [*KINDS, "overall"])
    axes.set_ylim(0, 1)
    axes.set_ylabel("pass rate")
    axes.set_title("memory-updates dev set (16 scenarios, 118 probes)")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    figure.tight_layout()
    figure.savefig(picture, dpi=100)
    print(f"wrote {picture}")


if __name__ == "__main__":
    main()
