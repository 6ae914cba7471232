"""Latency profiles and the predictor fitted to them: ``ops`` (what is timed), ``table`` (the
file format), ``profiles`` (finding profiles by name), ``predictor`` and ``completion`` (the
model), ``cache`` (fitted predictors on disk), ``tinynas`` (importing the published V100
tables) and ``check`` (held-out accuracy). NumPy and SciPy only.
"""
