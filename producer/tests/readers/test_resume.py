"""Crash resume: `generate` killed with SIGKILL at ten points over a run,
then `--resume`, gives the lake an uninterrupted run gives, byte for byte,
on a local folder and on S3 (moto)."""

import json
import signal
import subprocess
import time
import uuid

import pytest
from marketpulse_testkit import aws_run, files, generate, load_manifest, s3_objects
from marketpulse_testkit.aws import aws_environ, client

FLAGS = ["--scale", "0.3", "--days", "2", "--threads", "1", "--start", "2025-03-08"]
DIRTY = "[dirty]\nlate = 0.01\nduplicates = 0.01\nmalformed = 0.01\n"
KILLS = 10


def kill_and_resume(cmd, total_files, count_files, env=None, pause=0.0):
    """Runs `cmd` KILLS times, each killed with SIGKILL once the lake holds
    another eleventh of its `total_files` (so kills fall all over the run),
    then once to the end; every run after the first resumes. Returns the
    last run."""
    for i in range(KILLS):
        target = total_files * (i + 1) // (KILLS + 1)
        args = [*cmd, "--resume"] if i else cmd
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        while proc.poll() is None and count_files() < target and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, f"run {i} ended before its kill point"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        time.sleep(pause)
    return subprocess.run([*cmd, "--resume"], capture_output=True, text=True, env=env, check=False)


def data_count(keys):
    return sum(1 for k in keys if not k.startswith("_manifests/"))


@pytest.mark.slow
def test_resume_after_sigkill_on_a_folder(binary, tmp_path):
    cfg = tmp_path / "dirty.toml"
    cfg.write_text(DIRTY)
    expected = files(generate(binary, tmp_path / "whole", *FLAGS, "--config", str(cfg)))
    lake = tmp_path / "killed"
    cmd = [binary, "generate", "--out", lake, *FLAGS, "--config", cfg]

    def count():
        return data_count(str(p.relative_to(lake)) for p in lake.rglob("part-*")) if lake.exists() else 0

    last = kill_and_resume(cmd, data_count(expected), count)
    assert last.returncode == 0, last.stderr
    # The last run found most of the work done.
    assert "resumed:" in last.stderr, last.stderr
    assert files(lake) == expected
    assert load_manifest(lake)["complete"] is True
    verify = subprocess.run([binary, "verify", lake], capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr


@pytest.mark.slow
def test_resume_after_sigkill_on_s3(binary, moto, tmp_path):
    cfg = tmp_path / "dirty.toml"
    cfg.write_text(DIRTY)
    expected = files(generate(binary, tmp_path / "whole", *FLAGS, "--config", str(cfg)))
    bucket = f"resume-{uuid.uuid4().hex[:10]}"
    s3 = client("s3", moto)
    s3.create_bucket(Bucket=bucket)
    env = aws_environ()
    # S3 cannot tell a killed lock holder: its lease runs out after a second.
    cmd = [
        binary,
        "generate",
        "--out",
        f"s3://{bucket}/lake",
        *FLAGS,
        "--config",
        cfg,
        "--endpoint-url",
        moto,
        "--lock-lease-seconds",
        "1",
        "--multipart-threshold-mib",
        "5",
        "--part-size-mib",
        "5",
    ]

    def count():
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="lake/"):
            keys += [o["Key"][len("lake/") :] for o in page.get("Contents", [])]
        return data_count(k for k in keys if "/part-" in k)

    last = kill_and_resume(cmd, data_count(expected), count, env=env, pause=1.1)
    assert last.returncode == 0, last.stderr
    assert s3_objects(s3, bucket, "lake") == expected
    verify = aws_run(binary, "verify", f"s3://{bucket}/lake", endpoint=moto, check=False)
    assert verify.returncode == 0, verify.stderr
    manifest = json.loads(expected[next(k for k in expected if k.startswith("_manifests/") and "-shard-" in k)])
    assert manifest["complete"] is True


@pytest.mark.parametrize("extra", [pytest.param([], marks=pytest.mark.slow), ["--shard-count", "2", "--shard-index", "1"]])
def test_resume_of_a_complete_lake_skips_everything(binary, tmp_path, extra):
    lake = generate(binary, tmp_path / "lake", *FLAGS, *extra)
    before = files(lake)
    run = subprocess.run(
        [binary, "generate", "--out", lake, *FLAGS, *extra, "--resume"], capture_output=True, text=True, check=True
    )
    listed = len(load_manifest(lake)["files"])
    assert f"resumed: {listed} files" in run.stderr, run.stderr
    assert files(lake) == before
