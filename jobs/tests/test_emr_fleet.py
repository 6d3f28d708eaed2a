"""deploy/emr/fleet.py on the shared local SparkSession (`local[2,2]`: two
cores, a failed task tried twice, as EMR retries a lost executor's task):
4 shards as 4 Spark tasks give the lake one process gives, into a folder and
into moto's S3; a shard killed on its first attempt is retried and resumed;
one that always fails fails the step and is named."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from conftest import REPO

EMR = REPO / "deploy" / "emr"
sys.path.insert(0, str(EMR))
import fleet

SHARDS = 4
FLAGS = ["--seed", "11", "--scale", "0.002", "--days", "2", "--start", "2025-11-27", "--clicks-v2-from", "2025-11-28"]
DIRTY = "[dirty]\nlate = 0.02\nduplicates = 0.02\nmalformed = 0.02\n"
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


def data_files(files: dict[str, bytes]) -> dict[str, bytes]:
    """A lake's files without its manifests and locks, which name the shards."""
    return {k: v for k, v in files.items() if not k.startswith(("_manifests/", "_locks/"))}


def folder(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "dirty.toml"
    path.write_text(DIRTY)
    return path


@pytest.fixture(scope="module")
def single(binary, config, tmp_path_factory) -> dict[str, bytes]:
    """The lake one process writes."""
    out = tmp_path_factory.mktemp("single") / "lake"
    subprocess.run([binary, "generate", "--out", out, "--quiet", "--config", config, *FLAGS], check=True)
    return data_files(folder(out))


@pytest.fixture(scope="module")
def spark_fleet(spark):
    """The session, with fleet.py shipped to its workers as --py-files would."""
    spark.sparkContext.addPyFile(str(EMR / "fleet.py"))
    return spark


def run(spark, binary, config, out, report: Path, *extra: str, env: tuple[str, ...] = ()) -> tuple[int, dict]:
    """fleet.py's step with SHARDS shards; its exit code and JSON report."""
    argv = ["--shards", str(SHARDS), "--binary", str(binary), "--report", str(report)]
    argv += [a for e in env for a in ("--env", e)]
    argv += ["--", "--out", str(out), "--config", str(config), *FLAGS, *extra]
    code = fleet.main(argv, spark=spark)
    return code, (json.loads(report.read_text()) if code == 0 else {})


def verify(binary, lake, *extra: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "verify", lake, *extra], capture_output=True, text=True, env=env, check=False)


def test_four_shards_into_a_folder_equal_one_process(spark_fleet, binary, config, single, tmp_path, capsys):
    lake = tmp_path / "lake"
    code, report = run(spark_fleet, binary, config, lake, tmp_path / "report.json")
    assert code == 0, capsys.readouterr().err
    assert data_files(folder(lake)) == single
    manifests = sorted(p.name.split("-shard-")[1] for p in (lake / "_manifests").glob("*-shard-*.json"))
    assert manifests == [f"{i:05d}-of-{SHARDS:05d}.json" for i in range(SHARDS)]
    checked = verify(binary, lake)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    results = sorted(report["results"], key=lambda r: r["shard"])
    assert [r["shard"] for r in results] == list(range(SHARDS))
    assert all(r["attempt"] == 1 and r["complete"] for r in results)
    # Each shard's own summary, collected by the driver; their sum is the lake.
    assert sum(r["files"] for r in results) == len([k for k in single if not k.startswith("_truth")])
    out = capsys.readouterr().out
    assert f"fleet: {SHARDS} shards" in out and "0 retries" in out


def test_a_shard_killed_on_its_first_attempt_is_retried(spark_fleet, binary, config, single, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(fleet.CRASH, "2")
    lake = tmp_path / "lake"
    code, report = run(spark_fleet, binary, config, lake, tmp_path / "report.json")
    assert code == 0, capsys.readouterr().err
    assert data_files(folder(lake)) == single
    checked = verify(binary, lake)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    attempts = {r["shard"]: r["attempt"] for r in report["results"]}
    assert attempts == {0: 1, 1: 1, 2: 2, 3: 1}
    out = capsys.readouterr().out
    assert "shard 2 of 4: done on attempt 2 (after 1 retry)" in out
    assert "1 retries" in out


def test_a_shard_that_always_fails_fails_the_step_and_is_named(spark_fleet, binary, config, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(fleet.FAIL, "3")
    code, _ = run(spark_fleet, binary, config, tmp_path / "lake", tmp_path / "report.json")
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("fleet: shard 3 of 4 failed after 2 attempt(s): failed by MARKETPULSE_TEST_FLEET_FAIL"), err


def test_four_shards_into_s3_on_moto_equal_one_process(spark_fleet, binary, config, single, moto_s3, tmp_path, capsys):
    bucket = f"fleet-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1", **aws_keys())
    s3.create_bucket(Bucket=bucket)
    lake = f"s3://{bucket}/lake"
    env = tuple(f"{k}={v}" for k, v in AWS.items())
    code, report = run(spark_fleet, binary, config, lake, tmp_path / "report.json", "--endpoint-url", moto_s3, env=env)
    assert code == 0, capsys.readouterr().err
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="lake/"):
        for o in page.get("Contents", []):
            objects[o["Key"][len("lake/") :]] = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    assert data_files(objects) == single
    checked = verify(binary, lake, "--endpoint-url", moto_s3, env={**AWS, "PATH": "/usr/bin:/bin"})
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert len(report["results"]) == SHARDS


def aws_keys() -> dict[str, str]:
    return {"aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"]}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--shard-index", "1"], "fleet: --shard-index is set by the fleet for each shard; leave it out"),
        (["--scale", "-1"], "fleet: the producer refused the settings: "),
    ],
)
def test_bad_settings_stop_before_any_shard_starts(spark_fleet, binary, config, tmp_path, capsys, extra, message):
    lake = tmp_path / "lake"
    code, _ = run(spark_fleet, binary, config, lake, tmp_path / "report.json", *extra)
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and len(err.splitlines()) == 1, err
    assert not lake.exists()


def test_a_relative_lake_is_refused(spark_fleet, binary, capsys):
    assert fleet.main(["--shards", "2", "--binary", str(binary), "--", "--out", "lake"], spark=spark_fleet) == 1
    assert "--out lake is relative" in capsys.readouterr().err


def test_speculation_is_refused(spark_fleet):
    conf = spark_fleet.sparkContext.getConf()  # a copy: the session keeps its own
    fleet.check_conf(conf)
    with pytest.raises(fleet.FleetError, match="spark.speculation is on"):
        fleet.check_conf(conf.set("spark.speculation", "true"))
