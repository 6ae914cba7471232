"""Fitted predictors kept on disk, so that repeated solves skip the fit.

What that saves: the first and cached-fit wall times in docs/RESULTS.md, 'Solver'. A cached
fit is keyed by the profile file's bytes and the source of the fitting code, so an edited
profile or a new version of the predictor never reuses a stale one. The folder is
``$DESIGNER_CACHE_DIR``, else ``$XDG_CACHE_HOME/designer/predictors`` (``~/.cache/...``); a
cache that cannot be read or written is ignored (the fit is just done again).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

from designer.core.fileio import atomic_write_bytes
from latency.predict import completion, predictor
from latency.predict.predictor import Predictor
from latency.predict.profiles import profile_stem, resolve_profile
from latency.predict.table import LatencyTable


def cache_dir() -> Path:
    if os.environ.get("DESIGNER_CACHE_DIR"):
        return Path(os.environ["DESIGNER_CACHE_DIR"]).expanduser()
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "designer" / "predictors"


def _fit_code_digest() -> bytes:
    return b"".join(Path(module.__file__ or "").read_bytes() for module in (predictor, completion))


def cache_path(profile: Path) -> Path:
    """Where the fit of this profile file (as it is now) is kept."""
    digest = hashlib.sha256(profile.read_bytes() + _fit_code_digest()).hexdigest()[:32]
    return cache_dir() / f"{profile_stem(profile)}-{digest}.pkl"


def load_predictor(profile: str | Path) -> Predictor:
    """The predictor of a profile (name or path): from the cache when its fit is there, else
    fitted and cached."""
    profile = resolve_profile(str(profile))
    path = cache_path(profile)
    try:
        with path.open("rb") as cached:
            fitted = pickle.load(cached)
        if isinstance(fitted, Predictor):
            return fitted
    except Exception:  # a missing, partial or foreign cache file: fit again
        pass
    fitted = Predictor(LatencyTable.load(profile))
    try:
        atomic_write_bytes(path, pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass
    return fitted
