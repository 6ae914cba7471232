"""Regenerate the shipped V100 profiles, ``profiles/v100-trt-{fp32,fp16,int8}-b{1,32,64,128}.json.gz``,
from the published TinyNAS TensorRT tables (``../shared/data/tinynas-v100/``, Apache-2.0; see
``profiles/NOTICE``):

    python benchmarks/ship_v100_profiles.py            # write what differs from a fresh import
    python benchmarks/ship_v100_profiles.py --check    # write nothing; exit 1 if any differs

Each table is imported with ``latency.predict.tinynas.read_tinynas`` (one profile per batch) and
written gzipped without a time stamp. A shipped profile equal to the fresh import apart from
when, where and with which Python it was imported (``date``, ``host``, ``python``) is left as it
is, so a rerun changes nothing. Prints each file's size and the size of the whole package data
(``profiles/``), which is what the wheel carries.
"""

from __future__ import annotations

import sys
from pathlib import Path

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from latency.predict.table import LatencyTable
from latency.predict.tinynas import read_tinynas

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "tinynas-v100"
TABLES = {"fp32": "conv_data.out", "fp16": "conv_data.out.fp16", "int8": "conv_data.out.int8"}
IMPORT_KEYS = ("date", "host", "python")
"""Provenance that records the import itself, not the table: ignored when comparing."""


def same_table(fresh: LatencyTable, shipped: LatencyTable) -> bool:
    """Whether two imports of a table hold the same profile (apart from :data:`IMPORT_KEYS`)."""
    fresh.provenance.update({key: shipped.provenance.get(key) for key in IMPORT_KEYS})
    return fresh.to_text() == shipped.to_text()


def main() -> int:
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="folder of conv_data.out(.fp16/.int8)")
    parser.add_argument("--out", type=Path, default=ROOT / "profiles", help="the shipped profile folder")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a shipped profile differs")
    args = parser.parse_args()
    differing = []
    try:
        for precision, file in TABLES.items():
            for table in read_tinynas(args.shared / file, "v100", precision):
                path = args.out / f"{table.name}.json.gz"
                if path.is_file() and same_table(table, LatencyTable.load(path)):
                    state = "unchanged"
                elif args.check:
                    differing.append(path.name)
                    state = "DIFFERS from a fresh import" if path.is_file() else "MISSING"
                else:
                    table.save(path)
                    state = "written"
                size = f"{path.stat().st_size / 1e3:,.0f} kB" if path.is_file() else "-"
                print(f"{path.name:<28} {len(table.entries):>6} entries {size:>9}  {state}")
    except DesignerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    total = sum(path.stat().st_size for path in args.out.iterdir() if path.is_file())
    print(f"package data ({args.out}): {total / 1e6:.2f} MB")
    if differing:
        print(f"{len(differing)} shipped profiles differ: run without --check to regenerate them", file=sys.stderr)
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
