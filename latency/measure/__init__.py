"""Measuring latency on a device: ``backend`` (the interface and timing helpers) with its
``torch``, ``onnxruntime`` and ``tensorrt`` implementations, ``modules`` and ``onnx`` (what an
op runs as), ``grid`` (the ops a profile times), ``profiler`` (resumable profiling) and
``validate`` (predicted against measured whole networks).
"""
