"""The producer binary under test, and lakes it writes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from .aws import aws_environ
from .paths import REPO

# Every [dirty] knob on, for tests of what the readers and jobs make of dirt.
DIRTY = """
[dirty]
late = 0.02
duplicates = 0.02
near_duplicates = 0.02
malformed = 0.05
"""


def strip_caller_settings() -> None:
    """The binary runs with the tests' own settings only: the caller's
    MARKETPULSE_* variables (but MARKETPULSE_BIN) leave this process."""
    for name in [k for k in os.environ if k.startswith("MARKETPULSE_") and k != "MARKETPULSE_BIN"]:
        del os.environ[name]


def find_binary() -> Path:
    """MARKETPULSE_BIN, else the debug build; absolute, so tests may change folder."""
    path = Path(os.environ.get("MARKETPULSE_BIN") or REPO / "target" / "debug" / "marketpulse").resolve()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build it first (cargo build)")
    return path


def generate(binary: Path, out: Path, *args: str, config: str | None = None) -> Path:
    """Runs `marketpulse generate` into `out` (with `config` as its TOML file) and returns `out`."""
    cmd = [binary, "generate", "--out", out, *args]
    if config is not None:
        path = out.parent / f"{out.name}.toml"
        path.write_text(config)
        cmd += ["--config", path]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def load_manifest(lake: Path) -> dict:
    """The one shard manifest of a single-process lake."""
    (path,) = (lake / "_manifests").glob("*-shard-*.json")
    return json.loads(path.read_text())


def files(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file under `root` by relative path, but those starting with one of `exclude`."""
    out = {}
    for p in sorted(root.rglob("*")):
        name = str(p.relative_to(root))
        if p.is_file() and not name.startswith(exclude):
            out[name] = p.read_bytes()
    return out


def data_files(root: Path) -> dict[str, bytes]:
    """A lake's data files (no manifests, no truth sidecars) by path."""
    return files(root, exclude=("_manifests/", "_truth/"))


def aws_run(
    binary: Path, *args, endpoint: str | None = None, env: dict | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Runs marketpulse with the test AWS credentials (and `endpoint`); `env` goes on top.
    With `check`, a failure raises AssertionError with the command's stderr."""
    cmd = [binary, *args]
    if endpoint:
        cmd += ["--endpoint-url", endpoint]
    run = subprocess.run(cmd, check=False, capture_output=True, text=True, env={**aws_environ(), **(env or {})})
    if check and run.returncode != 0:
        raise AssertionError(f"{cmd} failed: {run.stderr}")
    return run
