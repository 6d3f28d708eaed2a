"""Generates one small lake per test session with the built binary."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# The binary runs with the tests' own settings only, not the caller's.
for _name in [k for k in os.environ if k.startswith("MARKETPULSE_") and k != "MARKETPULSE_BIN"]:
    del os.environ[_name]


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
    (path,) = (lake / "_manifests").glob("*-shard-*.json")
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
    (path,) = (lake / "_manifests").glob("*-shard-*.json")
    return json.loads(path.read_text())


AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """A moto server on 127.0.0.1 (with `env`), once it answers; and its URL."""
    import time
    import urllib.request

    port = free_port()
    server = subprocess.Popen(
        [Path(sys.executable).parent / "moto_server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            return server, url
        except OSError:
            time.sleep(0.1)
    server.terminate()
    pytest.fail("moto server did not start")


@pytest.fixture(scope="session")
def moto():
    """A moto server on 127.0.0.1 for the whole test session; yields its URL."""
    server, url = start_moto()
    try:
        os.environ.update(AWS_ENV)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def aws_run(binary: Path, *args, endpoint: str | None = None, env: dict | None = None, check: bool = True):
    """Runs marketpulse with test AWS credentials (and an endpoint)."""
    cmd = [binary, *args]
    if endpoint:
        cmd += ["--endpoint-url", endpoint]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    full_env.update(AWS_ENV)
    full_env.update(env or {})
    run = subprocess.run(cmd, check=False, capture_output=True, text=True, env=full_env)
    if check and run.returncode != 0:
        pytest.fail(f"{cmd} failed: {run.stderr}")
    return run


IMAGE = "localhost/marketpulse:test"


@pytest.fixture(scope="session")
def podman_image(binary, tmp_path_factory) -> dict:
    """The producer's image, built with podman from the test binary; yields
    the environment podman runs with. Skips without podman."""
    import shutil

    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (make test installs it with apt-get when run as root)")
    container = REPO / "deploy" / "container"
    env = dict(os.environ, CONTAINERS_CONF=str(container / "containers.conf"))
    context = tmp_path_factory.mktemp("image-context")
    subprocess.run([container / "package.sh", binary, context], check=True, capture_output=True)
    built = subprocess.run(
        ["podman", "build", "-q", "-t", IMAGE, context], env=env, capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    return env


def data_files(root: Path) -> dict[str, bytes]:
    """A lake's data files (no manifests, no truth sidecars) by path."""
    skip = ("_manifests", "_truth")
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not str(p.relative_to(root)).startswith(skip)
    }
