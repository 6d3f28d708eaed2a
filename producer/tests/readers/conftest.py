"""One small lake per test session, made with the binary under test (the
shared fixtures come from marketpulse_testkit's pytest plugin)."""

from pathlib import Path

import pytest
from marketpulse_testkit import generate, load_manifest


@pytest.fixture(scope="session")
def lake(binary, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lake")
    return generate(binary, out, "--scale", "0.01", "--days", "2", "--start", "2024-02-28")


@pytest.fixture(scope="session")
def manifest(lake) -> dict:
    return load_manifest(lake)
