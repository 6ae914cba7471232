"""Hardware awareness, in two halves that keep measuring apart from predicting (as nn-Meter
keeps its builder apart from its predictor):

* :mod:`latency.predict` — profile files, finding them, and predicting op, layer and network
  latency from them (NumPy and SciPy; what the solver's throughput constraint calls);
* :mod:`latency.measure` — the backends that time ops and networks on a device, the grid of ops
  a profile times, the resumable profiler and whole-network validation (PyTorch).
"""
