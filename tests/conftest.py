"""Shared fixtures: paths to the shared data and real services started per run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(
    os.environ.get("GRIDWATCH_DATA_DIR", REPO_ROOT.parent / "shared" / "data")
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        raise RuntimeError(f"shared data folder not found: {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def models_dir(shared_data: Path) -> Path:
    return shared_data / "models"


@pytest.fixture(scope="session")
def videos_dir(shared_data: Path) -> Path:
    return shared_data / "videos"


pytest_plugins = ["tests.utils.broker", "tests.utils.postgres"]
