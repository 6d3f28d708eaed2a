"""Generates one small lake per test session with the built binary."""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def binary() -> Path:
    path = Path(os.environ.get("MARKETPULSE_BIN", REPO / "target" / "debug" / "marketpulse"))
    if not path.exists():
        pytest.fail(f"{path} is missing: build it first (cargo build)")
    return path


@pytest.fixture(scope="session")
def lake(binary, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lake")
    subprocess.run(
        [binary, "generate", "--out", out, "--scale", "0.01", "--days", "2", "--start", "2024-02-28"],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="session")
def manifest(lake) -> dict:
    (path,) = (lake / "_manifests").glob("*.json")
    return json.loads(path.read_text())


def generate(binary: Path, out: Path, *args: str, config: str | None = None) -> Path:
    """Runs `marketpulse generate` into `out` and returns it."""
    cmd = [binary, "generate", "--out", out, *args]
    if config is not None:
        path = out.parent / f"{out.name}.toml"
        path.write_text(config)
        cmd += ["--config", path]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def load_manifest(lake: Path) -> dict:
    (path,) = (lake / "_manifests").glob("*.json")
    return json.loads(path.read_text())
