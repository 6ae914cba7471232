"""Running a command so that it never ends in a traceback (the CLI's commands, the benchmark scripts).

A :class:`~designer.core.errors.DesignerError` prints one ``error:`` line (parameter names written
as the flags that set them) and exits 2; an interrupt exits 130; an unexpected error prints one
line saying where its full report was written, and exits 1.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

from designer.cli.args import flag_name
from designer.core.errors import DesignerError
from designer.core.fileio import atomic_write_text


def crash_report(error: BaseException) -> Path:
    """Write the traceback of an unexpected error to a file and return its path."""
    folder = Path(os.environ.get("DESIGNER_CRASH_DIR") or tempfile.gettempdir())
    path = folder / f"designer-crash-{os.getpid()}.txt"
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    atomic_write_text(path, f"{' '.join(sys.argv)}\n\n{text}")
    return path


def run_guarded(command: Callable[[], int | None]) -> int:
    """``command()``'s exit code (0 for ``None``), or the code of the error it ended in, reported in one line."""
    try:
        return int(command() or 0)
    except DesignerError as error:
        print(f"error: {error.render(flag_name)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (`designer analyze X | head -1`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # the guard: never a traceback on the terminal
        try:
            where = f"; the full report is in {crash_report(error)}"
        except (OSError, DesignerError):
            where = ""
        first = next(iter(str(error).splitlines()), "")
        print(f"error: unexpected {type(error).__name__}: {first}{where}", file=sys.stderr)
        return 1
