"""Where profiles live and how a name finds one.

Two folders are searched, in this order:

1. the user folder, ``$DESIGNER_PROFILE_DIR`` or ``$XDG_DATA_HOME/designer/profiles``
   (``~/.local/share/designer/profiles``): imported tables (``designer profile
   import-tinynas``) and your own measurements, which take precedence over shipped ones;
2. the shipped folder ``profiles/`` of this package (measured by the project).

A profile file is named ``{gpu}-{backend}-{precision}-b{batch}.json`` (backends abbreviated
``torch``, ``ort``, ``trt``). A name may leave out the batch (``v100-trt-fp32``): the largest
batch found is used, the user folder winning ties. A path to a file works too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from designer.core.errors import DesignerError

NAME = re.compile(r"^(?P<stem>.+)-b(?P<batch>\d+)$")


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


def available() -> dict[str, Path]:
    """Every profile by name (the first folder holding a name wins)."""
    found: dict[str, Path] = {}
    for folder in search_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                if NAME.match(path.stem) and not path.stem.endswith(".partial"):
                    found.setdefault(path.stem, path)
    return found


def resolve_profile(name_or_path: str) -> Path:
    """The file of a profile name (``h100-torch-fp16-b256``, ``v100-trt-fp32``) or path."""
    path = Path(name_or_path).expanduser()
    if path.suffix == ".json" or os.sep in name_or_path:
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
    names = ", ".join(sorted(profiles)) or "none"
    raise DesignerError(
        f"unknown latency profile {name_or_path!r}; available: {names} "
        f"(import V100 tables with `designer profile import-tinynas`, measure with `designer profile`)"
    )
