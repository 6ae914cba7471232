"""The one exception type users see: a problem with their input, stated with its fix."""


class DesignerError(Exception):
    """Bad input or an impossible request.

    The message is a single line that names the problem and how to fix it; the CLI prints it
    as ``error: <message>`` and exits with status 2.
    """
