"""How well ``--verify``'s correction would have aimed each round of measured closed loops.

For every round after a first in ``throughput_targets.py`` reports (``closed_loop``), the next
design's bias (its prediction when designed over its measurement) is compared with what the
rounds before it gave :func:`designer.workflows.verify.next_target` (the mean of their refreshed
ratios, and the fresh ops' bias), and with the last round's refreshed ratio in place of the mean
(the rule before). A round counts as aimed into the band when asking for ``target x AIM x estimate`` would
have measured within ``[target, BAND x target]`` had the design come out at that prediction with
the bias it had. Every first round is replayed the same way, asked for the target itself (what
``--verify`` asked for before) and for ``target x AIM`` (CPU only, from committed files)::

    python benchmarks/verify_rounds.py docs/verify_rounds.json docs/h200/targets-*.json
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.parse import read_json
from designer.workflows.verify import AIM, BAND, Round, next_target


def rounds_of(loop: dict[str, Any]) -> list[Round]:
    """A closed loop's rounds as :class:`Round` (without their designs)."""
    return [
        Round(
            number,
            entry["asked"],
            entry["predicted"],
            entry["measured"],
            entry["new_ops"],
            None,  # type: ignore[arg-type]
            entry.get("refreshed", entry["predicted"]),  # reports before the refreshed figure: no new ops
        )
        for number, entry in enumerate(loop["rounds"], 1)
    ]


def _loops(report: Path) -> list[dict[str, Any]]:
    """A report's closed loops."""
    data = read_json(report, "throughput_targets.py report")
    loops = data.get("closed_loop") if isinstance(data, dict) else None
    if not isinstance(loops, list):
        raise DesignerError(f"{report} has no closed_loop; give a throughput_targets.py report")
    return loops


def aimed(report: Path) -> list[dict[str, Any]]:
    """One row per round after a first of every closed loop of a report."""
    rows = []
    for loop in _loops(report):
        try:
            target, history = float(loop["target"]), rounds_of(loop)
        except (KeyError, TypeError, ValueError) as error:
            raise DesignerError(
                f"{report}: a closed loop lacks {error!s} (target, rounds with asked, predicted, measured, new_ops); "
                "give a throughput_targets.py report"
            ) from None
        for k in range(1, len(history)):
            bias = history[k].predicted / history[k].measured
            mean = next_target(target, history[:k]) / (target * AIM)
            ratios = [entry.refreshed / entry.measured for entry in history[:k]]
            last = ratios[-1] * mean / (sum(ratios) / k)  # with the same fresh ops' bias
            rows.append(
                {
                    "report": report.name,
                    "target": target,
                    "round": k + 1,
                    "bias": bias,
                    "mean_rule": mean,
                    "last_ratio": last,
                    "mean_rule_in_band": 1 / AIM <= mean / bias <= BAND / AIM,
                    "last_ratio_in_band": 1 / AIM <= last / bias <= BAND / AIM,
                }
            )
    return rows


def first_rounds(report: Path) -> list[dict[str, Any]]:
    """One row per closed loop of a report: whether its first design, with the bias it had, would
    have measured in the band asked for the target and for ``target x AIM`` (its prediction over
    what it was asked kept)."""
    rows = []
    for loop in _loops(report):
        target, first = float(loop["target"]), rounds_of(loop)[0]
        bias, over = first.predicted / first.measured, first.predicted / first.asked
        landed = {aim: target <= target * aim * over / bias <= BAND * target for aim in (1.0, AIM)}
        rows.append(
            {
                "report": report.name,
                "target": target,
                "bias": bias,
                "target_in_band": landed[1.0],
                "aim_in_band": landed[AIM],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("reports", type=Path, nargs="+", help="throughput_targets.py reports with closed loops")
    args = parser.parse_args(argv)
    rows = [row for report in args.reports for row in aimed(report)]
    later = [row for row in rows if row["round"] > 2]  # where the two rules differ
    summary = {
        rule: {
            "rounds": len(rows),
            "in_band": sum(r[f"{rule}_in_band"] for r in rows),
            "in_band_after_two": sum(r[f"{rule}_in_band"] for r in later),
            "rounds_after_two": len(later),
        }
        for rule in ("mean_rule", "last_ratio")
    }
    for rule, counts in summary.items():
        print(
            f"{rule}: aimed into the band {counts['in_band']} of {counts['rounds']} rounds after a first, "
            f"{counts['in_band_after_two']} of {counts['rounds_after_two']} after a second"
        )
    firsts = [row for report in args.reports for row in first_rounds(report)]
    summary["first_round"] = {
        "loops": len(firsts),
        "target_in_band": sum(row["target_in_band"] for row in firsts),
        "aim_in_band": sum(row["aim_in_band"] for row in firsts),
    }
    print(
        f"first rounds in the band: asked for the target {summary['first_round']['target_in_band']} of {len(firsts)}, "
        f"for {AIM} x target {summary['first_round']['aim_in_band']}"
    )
    report = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "summary": summary}
    atomic_write_text(args.output, json.dumps({**report, "rows": rows, "first_rounds": firsts}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
