"""Helpers shared by the tests: importable as ``support.<module>`` (``tests/`` is on the path)."""
