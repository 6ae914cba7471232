"""Hardware awareness: per-op latency profiles of a device, and predicting network latency from them.

``latency.table`` (profile files), ``latency.profiles`` (finding them by name),
``latency.predictor`` (what the solver's throughput constraint calls), the backends that
measure profiles (``latency.backend``), and ``designer profile`` (``latency.cli``).
"""
