"""Command-line options made from parameter declarations (:mod:`designer.core.params`).

:func:`add_parameters` gives a parser one option per parameter of a dataclass (its flag, help,
parser and choices from the field's metadata); :func:`given` reads back the ones the user set,
to pass to the dataclass, whose own defaults then apply. :func:`flag_name` turns the parameter
names in library errors into the flags that set them. :class:`Parser` is the parser of the CLI and
of the benchmark scripts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import Field
from typing import Any, NoReturn

from designer.core.errors import DesignerError
from designer.core.params import choices_of, flag, parameters
from designer.core.request import DesignRequest

_TYPES: dict[str, dict[str, Any]] = {
    "int": {"type": int, "metavar": "N"},
    "float": {"type": float, "metavar": "X"},
    "str": {"type": str},
    "bool": {"action": argparse.BooleanOptionalAction},
    "tuple[float, float]": {"type": float, "nargs": 2, "metavar": ("MIN", "MAX")},
}


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def checked(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` for argparse: a :class:`DesignerError` becomes argparse's one-line usage error."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except DesignerError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def _options(item: Field[Any]) -> dict[str, Any]:
    kind = str(item.type).removesuffix(" | None")
    options = dict(_TYPES.get(kind, {"type": str}))
    if item.metadata.get("parse"):
        options["type"] = checked(item.metadata["parse"])
    if item.metadata.get("metavar"):
        options["metavar"] = item.metadata["metavar"]
    choices = choices_of(item)
    if choices:
        options["choices"] = choices
        options.pop("metavar", None)
    return options


def _default_text(item: Field[Any]) -> str:
    default = item.default
    if default is None:
        return ""
    if isinstance(default, tuple):
        return f" [{' '.join(map(str, default))}]"
    return f" [{default}]"


def add_parameters(parser: argparse.ArgumentParser | Any, cls: type, skip: Iterable[str] = ()) -> None:
    """One option per parameter of ``cls`` (except ``skip``); unset options stay out of the namespace."""
    skipped = set(skip)
    for item in parameters(cls):
        if item.name in skipped:
            continue
        parser.add_argument(
            flag(item),
            dest=item.name,
            default=argparse.SUPPRESS,
            help=item.metadata["help"] + _default_text(item),
            **_options(item),
        )


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The parameters of ``cls`` that the command line set (a pair given as ``MIN MAX`` as a tuple)."""
    values = {item.name: getattr(args, item.name) for item in parameters(cls) if hasattr(args, item.name)}
    return {name: tuple(value) if isinstance(value, list) else value for name, value in values.items()}


def flag_name(name: str) -> str:
    """The flag that sets parameter ``name`` (``num_classes`` is ``--classes``)."""
    from train.recipe import TrainConfig

    for cls in (DesignRequest, TrainConfig):
        for item in parameters(cls):
            if item.name == name:
                return flag(item)
    return flag(name)
