"""Strict reading of the JSON files the tool reads: exact types, bounded sizes, one-line errors.

:func:`read_json` reads a file of bounded size as UTF-8 JSON and refuses what Python's ``json``
lets through: ``NaN`` and ``Infinity``, numbers that overflow to infinity (``1e400``), integer
literals longer than :data:`MAX_DIGITS`, a key repeated in one object and nesting too deep to
parse. :func:`build` makes a dataclass from a parsed JSON object, field by field from the
type annotations, so a new field needs no parsing code: ``int`` takes an integer only (not
``true``, ``2.0`` or ``"2"``), ``float`` a finite number, ``bool`` only ``true``/``false``,
``str`` a string, ``X | None`` also ``null``, ``tuple[...]`` a list (or a tuple, from Python),
``dict[str, X]`` and a dataclass an object, ``Any`` any JSON value. Unknown and missing keys
are named. Ranges and relations between fields stay with each dataclass's own validation,
which runs when :func:`build` constructs it.

Every problem is a :class:`~designer.core.errors.DesignerError` of one line that names the
file, the field (``stages[1].stride``) and what to write instead.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import types
import typing
import zlib
from pathlib import Path
from typing import Any, TypeVar

from designer.core.errors import DesignerError

MAX_BYTES = 64 << 20
"""Largest file read (64 MiB: a full latency profile is well under 1 MiB)."""
MAX_DIGITS = 18
"""Longest integer literal accepted (every such integer fits in 64 bits)."""

T = TypeVar("T")


class _Refused(ValueError):
    """A JSON token that strict parsing refuses (raised inside ``json``'s hooks)."""


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows; write a finite number")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _Refused(f"an integer of {len(text.lstrip('-')):,} digits is too large; use at most {MAX_DIGITS}")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"{_clip(text)} is too large for a number; write a finite number")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise _Refused(f"key {_clip(json.dumps(repeated))} appears twice in one object; keep one")
    return data


def loads(text: str, what: str) -> Any:
    """Parse ``text`` as strict JSON; ``what`` names it in errors (``"arch spec x.json"``)."""
    try:
        return json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
            object_pairs_hook=_unique_keys,
        )
    except _Refused as error:
        raise DesignerError(f"{what}: {error}") from None
    except json.JSONDecodeError as error:
        raise DesignerError(f"{what} is not valid JSON ({error}); fix the file") from None
    except RecursionError:
        raise DesignerError(f"{what} is nested too deeply; fix the file") from None


def read_text(path: str | Path, what: str, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of ``path`` (gunzipped if it ends in ``.gz``), refusing a missing,
    unreadable, binary or oversized file."""
    path = Path(path)
    try:
        with gzip.open(path) if path.suffix == ".gz" else path.open("rb") as handle:
            data = handle.read(limit + 1)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DesignerError(f"{what} {path} cannot be decoded as gzip ({error}); is it the right file?") from None
    except OSError as error:
        raise DesignerError(f"cannot read {what} {path}: {error.strerror or error}; check the path") from None
    if len(data) > limit:
        raise DesignerError(f"{what} {path} is larger than {limit >> 20} MiB; is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DesignerError(
            f"{what} {path} is not text (byte {error.start} is not UTF-8); is it the right file?"
        ) from None


def read_json(path: str | Path, what: str, limit: int = MAX_BYTES) -> Any:
    """The strict JSON content of the file at ``path`` (see :func:`loads`)."""
    return loads(read_text(path, what, limit), f"{what} {path}")


# --- dataclasses from JSON objects ---------------------------------------------------------------
def build(cls: type[T], data: Any, where: str, path: str = "") -> T:
    """An instance of the dataclass ``cls`` from the JSON object ``data``, each field checked
    against its annotation; ``where`` names the file in errors, ``path`` the object within it."""
    label = f"{where}: {path}" if path else where
    if not isinstance(data, dict):
        raise DesignerError(f"{label} must be an object {{...}}, got {_show(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise DesignerError(
            f"{label} has unknown key(s) {', '.join(map(_key, unknown))}; valid keys: {', '.join(sorted(fields))}"
        )
    required = [name for name, f in fields.items() if _required(f)]
    missing = [name for name in required if name not in data]
    if missing:
        raise DesignerError(f"{label} needs {', '.join(missing)}; add {'them' if len(missing) > 1 else 'it'}")
    hints = typing.get_type_hints(cls)
    values = {name: _convert(hints[name], value, where, _join(path, name)) for name, value in data.items()}
    try:
        return cls(**values)
    except DesignerError as error:
        raise DesignerError(f"{where}: {error.render(lambda name: name)}") from None


def _required(item: dataclasses.Field[Any]) -> bool:
    return item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _convert(kind: Any, value: Any, where: str, path: str) -> Any:
    """``value`` as the annotation ``kind`` (a tuple from a list, a dataclass from an object)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in args:
            if option is not type(None) and _matches(option, value):
                return _convert(option, value, where, path)
        raise _wrong(kind, value, where, path)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _wrong(kind, value, where, path)
        items = list(args[:1]) * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(items) != len(value):
            raise _wrong(kind, value, where, path)
        return tuple(_convert(item, v, where, f"{path}[{i}]") for i, (item, v) in enumerate(zip(items, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise _wrong(kind, value, where, path)
        return {key: _convert(args[1], v, where, f"{path}.{_key(str(key))}") for key, v in value.items()}
    if dataclasses.is_dataclass(kind):
        return build(typing.cast(type, kind), value, where, path)
    if not _matches(kind, value):
        raise _wrong(kind, value, where, path)
    return value


def _matches(kind: Any, value: Any) -> bool:
    """Whether ``value`` has the JSON shape of ``kind`` (its contents are checked by :func:`_convert`)."""
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is str:
        return isinstance(value, str)
    if typing.get_origin(kind) is tuple:
        return isinstance(value, (list, tuple))
    if typing.get_origin(kind) is dict or dataclasses.is_dataclass(kind):
        return isinstance(value, dict)
    if kind is typing.Any:
        return True
    raise TypeError(f"strict parsing does not know the annotation {kind!r}")


_NAMES = {bool: "true or false", int: "a whole number", float: "a finite number", str: "a string"}
_PLURALS = {bool: "true/false values", int: "whole numbers", float: "finite numbers", str: "strings"}


def _expected(kind: Any) -> str:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _expected(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        return f"a list of {len(args)} values"
    if origin is dict or dataclasses.is_dataclass(kind):
        return "an object {...}"
    if kind is type(None):
        return "null"
    return _NAMES.get(kind, getattr(kind, "__name__", str(kind)))


def _plural(kind: Any) -> str:
    if kind in _PLURALS:
        return _PLURALS[kind]
    return "lists" if typing.get_origin(kind) is tuple else "objects {...}"


def _wrong(kind: Any, value: Any, where: str, path: str) -> DesignerError:
    return DesignerError(f"{where}: {path} must be {_expected(kind)}, got {_show(value)}{_hint(kind, value)}")


def _hint(kind: Any, value: Any) -> str:
    """How to write ``value`` as ``kind`` where that is plain (``2.0`` as ``2``, ``"true"`` as ``true``)."""
    scalars = [a for a in typing.get_args(kind) or (kind,) if a in _NAMES]
    if int in scalars and isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        return f"; write {int(value)}"
    if isinstance(value, str) and len(value) < 40:
        try:
            unquoted = json.loads(value.strip().lower())
        except ValueError:
            return ""
        if any(_matches(scalar, unquoted) for scalar in scalars):
            return f"; write {json.dumps(unquoted)} without quotes"
    return ""


def _show(value: Any) -> str:
    """A short description of a JSON value (never the whole of a large or deep one)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    return _clip(json.dumps(value))


def _key(name: str) -> str:
    """A key as written in a message: bare if it is a plain name, else quoted and escaped."""
    return name if name.isidentifier() and name.isascii() else _clip(json.dumps(name))


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
