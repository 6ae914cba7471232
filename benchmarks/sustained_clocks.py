"""A network's throughput and the GPU's SM clock and power while it runs for seconds on end.

The profiles and ``--verify`` time a network over a few short CUDA-graph replays. If the GPU
holds a lower clock on some networks than on others (a power cap reached sooner where the data
switch more bits), networks with the same ops run at different speeds. This replays each
network's graph (the torch backend's: batch-norm folded, the profile's batch and precision) for
``--seconds``, samples ``nvidia-smi`` every 100 ms meanwhile, and writes the short timing, the
sustained throughput and the medians of the samples::

    python benchmarks/sustained_clocks.py OUT/sustained-clocks.json --profile h200-torch-fp16-b256 \\
        docs/h200/mbv2-act/*.json

Runs on a CUDA GPU on demand (not in tests).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text
from designer.core.spec import ArchSpec
from designer.workflows.verify import ProfileMeasurer
from latency.measure.modules import network_input_shapes, network_module, random_inputs

QUERY = "clocks.sm,power.draw,temperature.gpu"


def sample_gpu(stop: threading.Event, samples: list[list[float]]) -> None:
    """Append ``[SM MHz, watts, deg C]`` every 100 ms until ``stop`` is set."""
    while not stop.is_set():
        done = subprocess.run(
            ["nvidia-smi", f"--query-gpu={QUERY}", "--format=csv,noheader,nounits", "-i", "0"],
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            samples.append([float(value) for value in done.stdout.strip().split(",")])
        stop.wait(0.1)


def sustained(backend: object, spec: ArchSpec, batch: int, seconds: float) -> dict[str, float]:
    """Images per second over ``seconds`` of back-to-back graph replays, and the GPU's medians meanwhile."""
    import torch

    with torch.device("cuda"):
        module = backend._prepare(network_module(spec))  # type: ignore[attr-defined]
    (x,) = random_inputs(network_input_shapes(spec, batch), backend.dtype, "cuda")  # type: ignore[attr-defined]
    with torch.inference_mode():
        copies = backend.autotune(lambda: module(x))  # type: ignore[attr-defined]
        graph = backend.capture(lambda: module(x), copies)  # type: ignore[attr-defined]
        short = statistics.median(backend.replay_times(graph, 3, 10)) / copies  # type: ignore[attr-defined]
        stop, samples = threading.Event(), list[list[float]]()
        sampler = threading.Thread(target=sample_gpu, args=(stop, samples))
        sampler.start()
        began, runs = time.perf_counter(), 0
        while time.perf_counter() - began < seconds:
            graph.replay()
            torch.cuda.synchronize()
            runs += copies
        elapsed = time.perf_counter() - began
        stop.set()
        sampler.join()
    clock, power, temperature = (statistics.median(column) for column in zip(*samples)) if samples else (0, 0, 0)
    return {
        "short_images_per_s": 1000.0 * batch / short,
        "sustained_images_per_s": runs * batch / elapsed,
        "sm_clock_mhz": clock,
        "power_w": power,
        "temperature_c": temperature,
        "samples": len(samples),
    }


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("networks", nargs="+", type=Path, metavar="ARCH", help="arch spec JSON files")
    parser.add_argument("--profile", required=True, help="the profile whose backend, batch and precision to use")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each network runs")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        raise DesignerError("--seconds must be above 0")
    specs = {path.stem: ArchSpec.load(path) for path in args.networks}
    measurer = ProfileMeasurer(args.profile)
    batch = measurer.table.batch
    rows = []
    for name, spec in specs.items():
        row = {"network": name, **sustained(measurer.backend, spec, batch, args.seconds)}
        rows.append(row)
        print(
            f"{name}: short {row['short_images_per_s']:,.0f} img/s, sustained {row['sustained_images_per_s']:,.0f}"
            f" img/s at {row['sm_clock_mhz']:.0f} MHz, {row['power_w']:.0f} W, {row['temperature_c']:.0f} C",
            flush=True,
        )
    report = {"profile": args.profile, "batch": batch, "seconds": args.seconds, "rows": rows}
    atomic_write_text(args.output, json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
