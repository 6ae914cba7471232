"""Parameters declared once, as dataclass fields with metadata, from which interfaces are made.

A field made by :func:`parameter` carries its help text and, where needed, the flag that sets
it, a parser for its text form and its choices; ``designer.cli`` builds each command's options
from these, and errors name the field (see :class:`designer.core.errors.ParameterError`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, field, fields
from typing import Any

from designer.core.errors import ParameterError


def parameter(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    parse: Callable[[str], Any] | None = None,
    metavar: str | None = None,
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None,
    runtime: bool = False,
) -> Any:
    """A dataclass field with its interface metadata; ``runtime`` marks settings that do not
    shape a result (a resumed run may change them)."""
    metadata = {"help": help, "flag": flag, "parse": parse, "metavar": metavar, "choices": choices, "runtime": runtime}
    return field(default=default, metadata=metadata)


def parameters(cls: type) -> list[Field[Any]]:
    """The fields of ``cls`` declared with :func:`parameter`, in declaration order."""
    return [f for f in fields(cls) if "help" in f.metadata and f.default is not MISSING]


def flag(item: Field[Any] | str) -> str:
    """The command-line flag of a parameter: its own, else ``--name-with-dashes``."""
    if isinstance(item, str):
        return "--" + item.replace("_", "-")
    return item.metadata.get("flag") or flag(item.name)


def choices_of(item: Field[Any]) -> tuple[str, ...] | None:
    choices = item.metadata.get("choices")
    if choices is None:
        return None
    return tuple(choices() if callable(choices) else choices)


# --- checks that name the parameter ------------------------------------------------------------
def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_int(name: str, value: Any, low: int = 1, high: int | None = None) -> None:
    """``value`` is an int (not a bool or float) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise ParameterError(f"{{{name}}} must be a whole number {bound}, got {value!r}")


def check_number(name: str, value: Any, low: float = 0.0, *, above: bool = True, high: float = math.inf) -> None:
    """``value`` is a finite number above ``low`` (or at least ``low`` with ``above=False``) and at most ``high``."""
    ok = is_number(value) and math.isfinite(value) and (value > low if above else value >= low) and value <= high
    if not ok:
        relation = "above" if above else "at least"
        upper = f" and at most {high:g}" if math.isfinite(high) else ""
        raise ParameterError(f"{{{name}}} must be a finite number {relation} {low:g}{upper}, got {value!r}")


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise ParameterError(f"{{{name}}} {value!r} is not one of {', '.join(map(str, allowed))}")
