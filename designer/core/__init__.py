"""The mathematical core, NumPy only: architecture spec, layers and block families, cost model,
entropy and effectiveness, the design space and its exact solver.

Nothing here imports PyTorch or any other layer of the project; every other layer builds on it.
"""
