"""Fixtures of the command tests (``helpers.py`` has what they build on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands.helpers import write_project


@pytest.fixture
def project(tmp_path) -> Path:
    """The two spec files of docs/specs.md, no state yet."""
    return write_project(tmp_path)
