"""What a tuning study leaves behind: the best design, a table of trials and plots."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import optuna

from designer.core.fileio import atomic_write_bytes, atomic_write_text
from designer.core.spec import ArchSpec
from designer.plots import png, subplots
from designer.workflows.tune import SURPLUS

COLUMNS = (
    "trial",
    "state",
    "rho0",
    "alpha_last",
    "beta",
    "widths",
    "depths",
    "entropy",
    "predicted",
    "measured",
    "feasible",
    "accuracy",
)


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per trial the study ran (failed and retried ones included)."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        if attrs.get(SURPLUS):  # started beyond the total by a worker, and given way at once
            continue
        constraint = attrs.get("constraint", (float("inf"),))
        rows.append(
            {
                "trial": trial.number,
                "state": trial.state.name.lower(),
                "rho0": trial.params.get("rho0"),
                "alpha_last": trial.params.get("alpha_last"),
                "beta": trial.params.get("beta"),
                "widths": "-".join(map(str, attrs.get("widths", []))),
                "depths": "-".join(map(str, attrs.get("depths", []))),
                "entropy": attrs.get("entropy"),
                "predicted": attrs.get("predicted_throughput"),
                "measured": attrs.get("measured_throughput"),
                "feasible": constraint[0] <= 0,
                "accuracy": attrs.get("accuracy", trial.values[0] if trial.values else None),
            }
        )
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def format_table(rows: list[dict[str, Any]]) -> str:
    cells = [list(COLUMNS)] + [[_cell(row[c]) for c in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in cells)


def best_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The best feasible trial (single objective) or the feasible Pareto front (multi-objective)."""
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.user_attrs.get("constraint", (float("inf"),))[0] <= 0
    ]
    if not complete:
        return []
    if len(study.directions) == 1:
        return [max(complete, key=lambda t: t.values[0])]
    front = [
        t
        for t in complete
        if not any(
            all(o >= v for o, v in zip(other.values, t.values)) and other.values != t.values for other in complete
        )
    ]
    return sorted(front, key=lambda t: t.values[1])


def write_outputs(study: optuna.Study, out: Path, target: float) -> list[Path]:
    """Best arch JSON(s), trials.csv, trials.md and PNG plots under ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    rows = trial_rows(study)
    written = []
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "trials.csv", buffer.getvalue())
    atomic_write_text(out / "trials.md", format_table(rows) + "\n")
    written += [out / "trials.csv", out / "trials.md"]
    best = best_trials(study)
    for rank, trial in enumerate(best):
        name = "best_arch.json" if len(study.directions) == 1 else f"pareto_{rank:02d}_arch.json"
        ArchSpec.from_dict(trial.user_attrs["arch"]).save(out / name)
        written.append(out / name)
    if len(study.directions) > 1:
        front = [{"trial": t.number, "accuracy": t.values[0], "measured_throughput": t.values[1]} for t in best]
        atomic_write_text(out / "pareto.json", json.dumps(front, indent=2) + "\n")
        written.append(out / "pareto.json")
    written += _plots(rows, out, target)
    return written


def _plots(rows: list[dict[str, Any]], out: Path, target: float) -> list[Path]:
    scored = [r for r in rows if r["accuracy"] is not None and r["measured"] is not None]
    feasible = [r for r in scored if r["feasible"]]
    infeasible = [r for r in scored if not r["feasible"]]
    paths = []

    figure, axes = subplots(figsize=(6, 4))
    for group, colour, label in ((feasible, "tab:blue", "meets target"), (infeasible, "tab:red", "misses target")):
        axes.scatter([r["rho0"] for r in group], [100 * r["accuracy"] for r in group], c=colour, label=label)
    axes.set_xscale("log")
    axes.set_xlabel("rho0 (effectiveness bound)")
    axes.set_ylabel("proxy accuracy (%)")
    axes.set_title("Accuracy vs rho0")
    axes.legend()
    paths.append(_save(figure, out / "accuracy_vs_rho.png"))

    figure, axes = subplots(figsize=(6, 4))
    for group, colour, label in ((feasible, "tab:blue", "meets target"), (infeasible, "tab:red", "misses target")):
        axes.scatter([r["measured"] for r in group], [100 * r["accuracy"] for r in group], c=colour, label=label)
    axes.axvline(target, color="grey", linestyle="--", label=f"target {target:,.0f} images/s")
    front = sorted(feasible, key=lambda r: -r["measured"])
    line, best_accuracy = [], -1.0
    for row in front:
        if row["accuracy"] > best_accuracy:
            best_accuracy = row["accuracy"]
            line.append(row)
    axes.step(
        [r["measured"] for r in line],
        [100 * r["accuracy"] for r in line],
        where="post",
        color="tab:green",
        label="feasible front",
    )
    axes.set_xlabel("measured throughput (images/s)")
    axes.set_ylabel("proxy accuracy (%)")
    axes.set_title("Accuracy vs measured throughput")
    axes.legend()
    paths.append(_save(figure, out / "accuracy_vs_throughput.png"))
    return paths


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    atomic_write_bytes(path, png(figure, dpi=120))
    return path
