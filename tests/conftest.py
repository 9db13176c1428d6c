"""Fixtures shared across the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.lab.shared_data import shared_data_dir

REPO_ROOT = Path(__file__).resolve().parent.parent

# Real Mosquitto brokers and test certificates (broker_factory, subscriber_factory, ...).
pytest_plugins = ("brokers",)


@pytest.fixture
def shared_data():
    """Return a function giving a path under ../shared/data, skipping the test when absent."""

    def locate(*parts: str) -> Path:
        path = shared_data_dir().joinpath(*parts)
        if not path.exists():
            pytest.skip(f"development data not present: {path} (set ALPR_SHARED_DATA)")
        return path

    return locate
