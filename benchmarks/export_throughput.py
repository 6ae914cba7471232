"""Throughput of an exported network: onnxruntime CPU vs PyTorch CPU eager, and GPU references.

Runs on demand (not in tests) and writes one JSON file::

    python benchmarks/export_throughput.py results.json --model resnet50
    python benchmarks/export_throughput.py results.json --model arch.json --batch 8 --threads 2

``--model`` is a reference name (``designer analyze`` lists them), an arch spec JSON or a
checkpoint; specs get random weights, which do not change speed. Measured on this machine:

* ``onnx_parity``: the exported model in onnxruntime vs PyTorch (max abs and relative error).
* ``cpu``: images/s of PyTorch eager (the network as built, and with batch-norm folded as in the
  export) and of onnxruntime's CPU provider, at ``--batch`` with ``--threads`` intra-op
  threads (median over ``--iters`` timed batches after warm-up); ``ratio`` = onnxruntime /
  PyTorch eager as built.
* ``cuda`` (when a GPU is visible): PyTorch fp16, channels_last, folded network replayed as a
  CUDA graph at ``--gpu-batch`` (throughput from CUDA events around ``--gpu-iters`` replays).
* ``tensorrt`` (when TensorRT imports too): an fp16 engine tuned for ``--gpu-batch``, timed by
  ``export.bench`` (or the error that stopped it: untrained deep nets can overflow fp16).
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import onnxruntime as ort
import torch
from torch import nn

from designer.cli.args import Parser
from designer.cli.guard import run_guarded
from designer.core.analysis import analyze_spec
from designer.core.errors import DesignerError
from designer.core.reference import REFERENCES, reference_spec
from designer.nn.fold import fold_batchnorm
from designer.nn.model import build_model
from export.deps import tensorrt_available
from export.onnx_export import export_onnx, ort_session, random_input, run_ort, verify_onnx
from export.options import EngineOptions
from export.source import Network, load_network
from latency.measure.backend import wall_clock_median


def load(model: str) -> Network:
    if model in REFERENCES:
        spec = reference_spec(model)
        return Network(spec, build_model(spec).eval(), trained=False)
    return load_network(model)


def cpu_throughput(network: Network, onnx_bytes: bytes, batch: int, threads: int, iters: int) -> dict[str, Any]:
    torch.set_num_threads(threads)
    x = random_input(network.spec, batch)
    session = ort_session(onnx_bytes, threads)
    folded = fold_batchnorm(network.model)

    def eager(model: nn.Module) -> Callable[[], Any]:
        def step() -> None:
            with torch.inference_mode():
                model(x)

        return step

    seconds = {
        name: wall_clock_median(step, 2, iters) / 1000.0
        for name, step in (
            ("torch_eager", eager(network.model)),
            ("torch_eager_folded", eager(folded)),
            ("onnxruntime", lambda: run_ort(session, x.numpy())),
        )
    }
    result: dict[str, Any] = {"batch": batch, "threads": threads, "iters": iters}
    result.update({f"{name}_images_per_s": batch / s for name, s in seconds.items()})
    result["ratio_onnxruntime_vs_torch_eager"] = seconds["torch_eager"] / seconds["onnxruntime"]
    return result


def cuda_graph_throughput(network: Network, batch: int, iters: int) -> dict[str, Any]:
    torch.backends.cudnn.benchmark = True
    model = fold_batchnorm(network.model).half().cuda()
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # missing from its overloads
    static = random_input(network.spec, batch).half().cuda().to(memory_format=torch.channels_last)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.no_grad():
        with torch.cuda.stream(side):
            for _ in range(5):  # cudnn autotuning and allocator warm-up outside the graph
                model(static)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            model(static)
    for _ in range(10):
        graph.replay()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        graph.replay()
    end.record()
    end.synchronize()
    seconds = start.elapsed_time(end) / 1e3
    return {
        "batch": batch,
        "iters": iters,
        "dtype": "float16",
        "memory_format": "channels_last",
        "batchnorm": "folded",
        "images_per_s": batch * iters / seconds,
        "device": torch.cuda.get_device_name(),
    }


def tensorrt_throughput(onnx_bytes: bytes, batch: int, iters: int) -> dict[str, Any]:
    from export.bench import bench_engine
    from export.tensorrt_engine import build_engine

    options = EngineOptions("fp16", min_batch=1, opt_batch=batch, max_batch=batch)
    with tempfile.TemporaryDirectory() as folder:
        onnx_path, plan_path = Path(folder) / "net.onnx", Path(folder) / "net.plan"
        onnx_path.write_bytes(onnx_bytes)
        plan_path.write_bytes(build_engine(onnx_bytes, options))
        result = bench_engine(plan_path, onnx_path, warmup=20, iters=iters)
    return {"precision": "fp16", **asdict(result)}


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="write the results (JSON) here")
    parser.add_argument("--model", default="resnet50", help="reference name, arch JSON or checkpoint")
    parser.add_argument("--batch", type=int, default=8, help="CPU batch size (default 8)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU intra-op threads")
    parser.add_argument("--iters", type=int, default=10, help="timed CPU batches per backend (default 10)")
    parser.add_argument("--gpu-batch", type=int, default=256, help="GPU batch size (default 256)")
    parser.add_argument("--gpu-iters", type=int, default=100, help="timed CUDA graph replays (default 100)")
    args = parser.parse_args(argv)

    network = load(args.model)
    analysis = analyze_spec(network.spec)
    onnx_model = export_onnx(network)
    parity = verify_onnx(onnx_model, network.model, network.spec)
    onnx_bytes = onnx_model.SerializeToString()
    results: dict[str, Any] = {
        "model": args.model,
        "resolution": network.spec.resolution,
        "params": analysis.params,
        "flops": analysis.flops,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "onnxruntime": ort.__version__,
            "cpu_threads_available": torch.get_num_threads(),
        },
        "onnx_parity": [asdict(p) for p in parity],
    }
    results["cpu"] = cpu_throughput(network, onnx_bytes, args.batch, args.threads, args.iters)
    cuda = torch.cuda.is_available()
    results["cuda"] = cuda_graph_throughput(network, args.gpu_batch, args.gpu_iters) if cuda else None
    results["tensorrt"] = None
    if cuda and tensorrt_available():
        try:
            results["tensorrt"] = tensorrt_throughput(onnx_bytes, args.gpu_batch, args.gpu_iters)
        except DesignerError as error:  # e.g. fp16 overflow of an untrained deep net fails the output check
            results["tensorrt"] = {"error": str(error)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run_guarded(main))
