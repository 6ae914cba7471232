"""Build a serialized TensorRT engine from an ONNX model with TensorRT 10's Python API.

Import this module only after :func:`export.deps.check_tensorrt`. The engine has one
optimization profile over the batch axis, the requested precision (fp32 turns TF32 off so it
matches onnxruntime closely; fp16 allows half-precision kernels), a workspace limit, and a
timing cache that is loaded before the build and merged and saved atomically after it, so
later builds on the same GPU and TensorRT version skip most kernel timing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import tensorrt as trt

from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_bytes
from export.options import EngineOptions

Severity = trt.ILogger.Severity


class TensorRTLogger(trt.ILogger):
    """Prints TensorRT's warnings (and info when verbose) to stderr and keeps its errors.

    Errors are printed only when verbose: by default the caller reports the first one in its
    single-line error.
    """

    def __init__(self, verbose: bool = False) -> None:
        trt.ILogger.__init__(self)
        self.threshold = Severity.INFO if verbose else Severity.WARNING
        self.verbose = verbose
        self.errors: list[str] = []

    def log(self, severity: trt.ILogger.Severity, msg: str) -> None:
        if severity <= Severity.ERROR:
            self.errors.append(msg)
            if not self.verbose:
                return
        if severity <= self.threshold:
            print(f"[TensorRT] {severity.name}: {msg}", file=sys.stderr)


def default_timing_cache() -> Path:
    """Per-user timing cache, one per TensorRT version (TensorRT refuses caches of other versions)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "designer" / f"tensorrt-{trt.__version__}.timing"


def build_engine(onnx_model: bytes, options: EngineOptions, verbose: bool = False) -> bytes:
    """The serialized engine (plan) of ``onnx_model``, whose inputs have a dynamic first (batch) axis."""
    logger = TensorRTLogger(verbose)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_model):
        errors = [parser.get_error(i).desc() for i in range(parser.num_errors)]
        raise DesignerError(f"TensorRT cannot parse the ONNX model ({len(errors)} error(s), first: {errors[0]})")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace)
    if options.precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    else:
        config.clear_flag(trt.BuilderFlag.TF32)
    config.add_optimization_profile(_batch_profile(builder, network, options))

    cache_path = options.timing_cache or default_timing_cache()
    loaded = cache_path.read_bytes() if cache_path.is_file() else b""
    cache = config.create_timing_cache(loaded)
    if not config.set_timing_cache(cache, ignore_mismatch=False):
        print(f"[TensorRT] timing cache {cache_path} is from another GPU; starting a new one", file=sys.stderr)
        loaded, cache = b"", config.create_timing_cache(b"")
        config.set_timing_cache(cache, ignore_mismatch=False)

    plan = builder.build_serialized_network(network, config)
    if plan is None:
        reason = logger.errors[0] if logger.errors else "no error was logged"
        raise DesignerError(f"TensorRT could not build the engine ({reason}); rerun with --verbose for the build log")
    _save_timing_cache(config, cache, cache_path, loaded)
    return bytes(plan)


def _batch_profile(
    builder: trt.Builder, network: trt.INetworkDefinition, options: EngineOptions
) -> trt.IOptimizationProfile:
    profile = builder.create_optimization_profile()
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        sample = tensor.shape[1:]
        if any(dim < 0 for dim in sample):
            raise DesignerError(
                f"input {tensor.name!r} has a dynamic axis besides the batch; export a fixed resolution"
            )
        shapes = (trt.Dims([batch, *sample]) for batch in (options.min_batch, options.opt_batch, options.max_batch))
        profile.set_shape(tensor.name, *shapes)
    return profile


def _save_timing_cache(config: trt.IBuilderConfig, cache: trt.ITimingCache, path: Path, loaded: bytes) -> None:
    """Merge in what another build saved since ``loaded`` was read, then replace the file atomically."""
    current = path.read_bytes() if path.is_file() else b""
    if current and current != loaded:
        cache.combine(config.create_timing_cache(current), ignore_mismatch=False)
    atomic_write_bytes(path, bytes(cache.serialize()))
