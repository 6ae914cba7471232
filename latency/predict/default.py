"""Which latency profile a throughput target uses when none is named: the first of

1. ``$DESIGNER_PROFILE`` (a profile name or path);
2. the profile set with ``designer profile use NAME``, kept in the user config file
   (:func:`config_path`: ``$DESIGNER_CONFIG_DIR/config.json``, by default
   ``$XDG_CONFIG_HOME/designer/config.json``, i.e. ``~/.config/designer/config.json``);
3. the profile most recently built or imported on this machine: the newest complete profile
   in the user profile folder (:func:`latency.predict.profiles.user_dir`);
4. the profile of this machine's GPU as PyTorch names it (PyTorch is imported for this step
   only, and only where a GPU driver is present): of the profiles whose GPU the device name
   contains, fp32 (what ``designer profile`` measures by default) first, then the largest batch.

With none of these, :func:`default_profile` raises a one-line
:class:`~designer.core.errors.ParameterError` that lists the profiles there are.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from designer.core.errors import DesignerError, ParameterError
from designer.core.fileio import atomic_write_text
from designer.core.parse import build, read_json
from latency.predict.profiles import (
    PARTS,
    available,
    is_path,
    matches_device,
    profile_stem,
    profiles_in,
    resolve_profile,
    summary,
    user_dir,
)

ENVIRONMENT = "DESIGNER_PROFILE"
DRIVER_FILES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg")
"""Files present where a GPU driver is (NVIDIA, ROCm, WSL): without one, PyTorch is not imported."""
PREFERRED_PRECISION = "fp32"


@dataclass(frozen=True)
class ProfileChoice:
    """The profile a solve uses, and why."""

    name: str
    path: Path
    reason: str


def config_path() -> Path:
    if os.environ.get("DESIGNER_CONFIG_DIR"):
        return Path(os.environ["DESIGNER_CONFIG_DIR"]).expanduser() / "config.json"
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / "designer" / "config.json"


@dataclass(frozen=True)
class UserConfig:
    """The user config file's settings (``designer profile use`` writes it)."""

    profile: str | None = None
    """The default profile, a name or an absolute path."""

    def __post_init__(self) -> None:
        if self.profile == "":
            raise DesignerError("profile must name a profile or be left out; run `designer profile use NAME`")


def _read_config() -> UserConfig:
    path = config_path()
    if not path.is_file():
        return UserConfig()
    where = f"designer config {path}"
    return build(UserConfig, read_json(path, "designer config"), f"{where} (fix or delete it)")


def set_default_profile(name_or_path: str | None) -> None:
    """Make a profile (name or path; checked to exist) the default, or clear the default with ``None``."""
    _read_config()  # a broken file is reported, not overwritten
    profile = None
    if name_or_path is not None:
        path = resolve_profile(name_or_path)
        profile = str(path.resolve()) if is_path(name_or_path) else name_or_path
    config = {key: value for key, value in asdict(UserConfig(profile)).items() if value is not None}
    atomic_write_text(config_path(), json.dumps(config, indent=2) + "\n")


def default_profile() -> ProfileChoice:
    """The profile a throughput target uses when none is named (see the module docstring)."""
    if os.environ.get(ENVIRONMENT):
        return _named(os.environ[ENVIRONMENT], f"from ${ENVIRONMENT}")
    configured = _read_config().profile
    if configured is not None:
        return _named(configured, f"set with `designer profile use` in {config_path()}")
    recent = _most_recent()
    if recent is not None:
        return recent
    device = local_gpu_name()
    if device is not None:
        matching = _for_device(device)
        if matching is not None:
            return matching
    here = f"none for this machine's {device}" if device else "no GPU here"
    raise ParameterError(
        f"no latency profile given, none set as default and {here}: choose one with {{profile}} NAME or "
        f"`designer profile use NAME` (available: {summary()}), or measure a GPU with `designer profile --gpu NAME` on it"
    )


def _named(name_or_path: str, reason: str) -> ProfileChoice:
    try:
        path = resolve_profile(name_or_path)
    except DesignerError as error:
        raise DesignerError(f"the default profile {name_or_path!r} ({reason}) is not available: {error}") from None
    return ProfileChoice(profile_stem(path), path, reason)


def _most_recent() -> ProfileChoice | None:
    found = profiles_in(user_dir())
    if not found:
        return None
    name, path = max(found.items(), key=lambda item: (item[1].stat().st_mtime_ns, item[0]))
    return ProfileChoice(name, path, f"the most recently built or imported here, in {path.parent}")


def _for_device(device: str) -> ProfileChoice | None:
    ranked = []
    for name, path in available().items():
        parts = PARTS.match(name)
        if parts and parts["gpu"] != "cpu" and matches_device(parts["gpu"], device):
            ranked.append(((parts["precision"] == PREFERRED_PRECISION, int(parts["batch"]), name), path))
    if not ranked:
        return None
    (_, _, name), path = max(ranked)
    return ProfileChoice(name, path, f"the profile of this machine's GPU, {device}")


def local_gpu_name() -> str | None:
    """This machine's first CUDA device as PyTorch names it; ``None`` without a GPU driver,
    PyTorch or a CUDA device."""
    driver = sys.platform == "win32" or any(os.path.exists(path) for path in DRIVER_FILES)
    if not driver or importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else None
