"""The command's clock, so that ``designer solve --time-limit`` can count the whole command.

The package imports this module before anything heavy, so the first command of a process counts
from then (imports included); a later command in the same process (tests, notebooks) counts from
its own start.
"""

import time

_IMPORTED = time.perf_counter()
_started: float | None = None


def start_command() -> None:
    """Start the clock of a command (see the module docstring)."""
    global _started
    _started = _IMPORTED if _started is None else time.perf_counter()


def command_seconds() -> float:
    """Seconds since the command started (since import when no command has started)."""
    return time.perf_counter() - (_IMPORTED if _started is None else _started)
