"""Test session settings. Helpers shared by tests live in ``tests/support/``; nothing here imports
PyTorch, so the NumPy-only tests run without it."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_folders(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fitted predictors, user profiles, the user config and crash reports go to folders of the
    test session, not the user's; no default profile comes from the environment."""
    os.environ["DESIGNER_CACHE_DIR"] = str(tmp_path_factory.mktemp("predictor-cache"))
    os.environ["DESIGNER_PROFILE_DIR"] = str(tmp_path_factory.mktemp("user-profiles"))
    os.environ["DESIGNER_CONFIG_DIR"] = str(tmp_path_factory.mktemp("user-config"))
    os.environ["DESIGNER_CRASH_DIR"] = str(tmp_path_factory.mktemp("crash-reports"))
    os.environ.pop("DESIGNER_PROFILE", None)
