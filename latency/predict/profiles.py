"""Where profiles live and how a name finds one.

Two folders are searched, in this order:

1. the user folder, ``$DESIGNER_PROFILE_DIR`` or ``$XDG_DATA_HOME/designer/profiles``
   (``~/.local/share/designer/profiles``): imported tables (``designer profile
   import-tinynas``) and your own measurements, which take precedence over shipped ones;
2. the shipped folder ``profiles/`` of this package (measured by the project, and the
   published V100 TensorRT tables, imported and gzipped).

A profile file is named ``{gpu}-{backend}-{precision}-b{batch}.json`` (or ``.json.gz``;
backends abbreviated ``torch``, ``ort``, ``trt``). A name may leave out the batch
(``v100-trt-fp32``): the largest batch found is used, the user folder winning ties. A path to
a file works too.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from designer.core.errors import DesignerError

NAME = re.compile(r"^(?P<stem>.+)-b(?P<batch>\d+)$")
PARTS = re.compile(r"^(?P<gpu>.+)-(?P<backend>[a-z]+)-(?P<precision>[a-z0-9]+)-b(?P<batch>\d+)$")
"""``{gpu}-{backend}-{precision}-b{batch}``, the parts of a profile name."""
SUFFIXES = (".json.gz", ".json")


def shipped_dir() -> Path:
    import profiles

    return Path(profiles.__file__).resolve().parent


def user_dir() -> Path:
    if os.environ.get("DESIGNER_PROFILE_DIR"):
        return Path(os.environ["DESIGNER_PROFILE_DIR"]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "designer" / "profiles"


def search_dirs() -> list[Path]:
    return [user_dir(), shipped_dir()]


def profile_stem(path: Path) -> str:
    """The profile name of a file: its name without ``.json`` or ``.json.gz``."""
    for suffix in SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.stem


def profiles_in(folder: Path) -> dict[str, Path]:
    """The complete profiles in one folder by name (``.partial`` files of interrupted runs left out)."""
    found: dict[str, Path] = {}
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            name = profile_stem(path)
            if path.name.endswith(SUFFIXES) and NAME.match(name) and not name.endswith(".partial"):
                found.setdefault(name, path)
    return found


def available() -> dict[str, Path]:
    """Every profile by name (the first folder holding a name wins)."""
    found: dict[str, Path] = {}
    for folder in search_dirs():
        for name, path in profiles_in(folder).items():
            found.setdefault(name, path)
    return found


def summary(names: list[str] | None = None) -> str:
    """The profile names on one line, the batches of one stem together: ``v100-trt-fp32-b{1,32,64,128}``."""
    batches: dict[str, list[int]] = defaultdict(list)
    for name in names if names is not None else available():
        match = NAME.match(name)
        if match:
            batches[match["stem"]].append(int(match["batch"]))
    parts = []
    for stem, found in sorted(batches.items()):
        found.sort()
        parts.append(f"{stem}-b{found[0]}" if len(found) == 1 else f"{stem}-b{{{','.join(map(str, found))}}}")
    return ", ".join(parts) or "none"


def is_path(name_or_path: str) -> bool:
    """Whether a profile argument is a file path rather than a name."""
    return name_or_path.endswith(SUFFIXES) or os.sep in name_or_path


def resolve_profile(name_or_path: str) -> Path:
    """The file of a profile name (``h100-torch-fp16-b256``, ``v100-trt-fp32``) or path."""
    path = Path(name_or_path).expanduser()
    if is_path(name_or_path):
        if path.is_file():
            return path
        raise DesignerError(f"profile file {path} does not exist; check the path or give a profile name")
    profiles = available()
    if name_or_path in profiles:
        return profiles[name_or_path]
    batches = []
    for name, file in profiles.items():
        match = NAME.match(name)
        if match and match["stem"] == name_or_path:
            batches.append((int(match["batch"]), file))
    if batches:
        return max(batches, key=lambda item: item[0])[1]
    raise DesignerError(
        f"unknown latency profile {name_or_path!r}; available: {summary(list(profiles))} "
        f"(import V100 tables with `designer profile import-tinynas`, measure with `designer profile`)"
    )


def matches_device(gpu: str, device_name: str) -> bool:
    """Whether a profile's ``gpu`` names this device (``h100`` in ``NVIDIA H100 80GB HBM3``)."""
    return _squash(gpu) in _squash(device_name)


def _squash(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())
