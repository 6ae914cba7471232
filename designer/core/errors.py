"""The errors users see: a problem with their input, stated in one line with its fix.

Messages speak of the library's parameter names. Where a message names parameters, they are
written ``{name}`` in a :class:`ParameterError`'s template, so that each interface renders them
its own way: the library as ``name``, the CLI as the flag that sets it (``--name``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_NAME = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class DesignerError(Exception):
    """Bad input or an impossible request.

    The message is a single line that names the problem and how to fix it; the CLI prints it
    as ``error: <message>`` and exits with status 2.
    """

    def render(self, name: Callable[[str], str]) -> str:
        """The message with parameter names written by ``name`` (the CLI passes their flags)."""
        return str(self)


class ParameterError(DesignerError):
    """A bad value of a named parameter; ``template`` writes parameter names as ``{name}``."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.parameters = _NAME.findall(template)
        super().__init__(self.render(lambda parameter: parameter))

    def render(self, name: Callable[[str], str]) -> str:
        return _NAME.sub(lambda match: name(match.group(1)), self.template)


class Infeasible(DesignerError):
    """No design of the space satisfies the constraints."""


class SolveTimeout(ParameterError):
    """The solver's time limit (the ``time_limit`` parameter) passed before it proved a design optimal."""
