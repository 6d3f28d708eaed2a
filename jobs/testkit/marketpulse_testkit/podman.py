"""The producer's container image, built with podman from the binary under test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .paths import REPO

IMAGE = "localhost/marketpulse:test"
CONTAINER = REPO / "deploy" / "container"


def missing_podman() -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed (make test installs it with apt-get when run as root)"
    return None


def build_image(binary: Path, context: Path) -> dict[str, str]:
    """Builds IMAGE from `binary` in the folder `context`; returns the
    environment podman runs with (the repository's containers.conf)."""
    env = dict(os.environ, CONTAINERS_CONF=str(CONTAINER / "containers.conf"))
    subprocess.run([CONTAINER / "package.sh", binary, context], check=True, capture_output=True)
    built = subprocess.run(
        ["podman", "build", "-q", "-t", IMAGE, context], env=env, capture_output=True, text=True, check=False
    )
    if built.returncode != 0:
        raise AssertionError(f"podman build failed: {built.stderr}")
    return env
