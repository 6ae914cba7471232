"""PyTorch modules built from specs: block modules, the network, batch-norm folding,
checkpoints and the analysis of arbitrary modules. Builds on :mod:`designer.core` only.
"""
