"""The steps users run, composed from the layers below: ``design`` (solve the MP for a request),
``verify`` (the closed loop on the GPU), ``tune`` (an Optuna study of rho0) and ``profile``
(measure a latency profile). The CLI and the public API in :mod:`designer` call these.
"""
