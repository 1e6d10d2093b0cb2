"""Shared test helpers. The `report_emulator` fixture itself comes from the package's pytest plugin."""
from __future__ import annotations

import pytest
import requests


@pytest.fixture
def http():
    """A requests session for talking to the emulator through a real socket."""
    with requests.Session() as session:
        yield session
