"""The EMR fleet's AWS side against moto (the Spark fan-out itself is tested
in test_emr_fleet.py): `marketpulse-emr publish` uploads the binary, the
bootstrap actions and the fleet driver with the zip it needs to run alone; the
bootstrap action installs the real binary only when its SHA-256 matches,
using the real AWS CLI; the cluster and step templates pass botocore's
checks of the EMR API model and create a cluster of on-demand master and
core and spot task groups whose one step is the fan-out, with speculation
off; a failed step fails the submitter."""

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from marketpulse_deploy.emr import cluster as emr_cluster
from marketpulse_deploy.emr import fleet
from marketpulse_testkit import REPO, moto_in_process
from marketpulse_testkit.aws import aws_environ

EMR = REPO / "deploy" / "emr"

VALUES = {
    "ENV": "dev",
    "LOGS_BUCKET": "logs",
    "SERVICE_ROLE": "marketpulse-dev-emr-service",
    "INSTANCE_PROFILE": "marketpulse-dev-emr-instance",
    "SUBNET_ID": "subnet-0123456789abcdef0",
    "LAKE": "s3://raw/lake",
    "SECURITY_CONFIGURATION": "marketpulse-dev",
    "KMS_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
}


@pytest.fixture(scope="module")
def aws():
    """moto in this process (steps never finish by themselves: tests set
    their state through the backend); yields its URL."""
    with moto_in_process() as url:
        boto3.client("s3", endpoint_url=url).create_bucket(Bucket="artifacts")
        yield url


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel named as `make wheel` names it (its content is not under test here)."""
    path = tmp_path_factory.mktemp("wheel") / "marketpulse_jobs-0.1.0-py3-none-any.whl"
    path.write_bytes(b"PK\x05\x06" + bytes(18))
    return path


@pytest.fixture(scope="module")
def published(aws, binary, wheel):
    """The artifacts as `marketpulse-emr publish`, run from the repository
    root, uploads them (the jobs' entry points from there), and the values it prints."""
    out = subprocess.run(
        [Path(sys.executable).parent / "marketpulse-emr", "publish", "--bucket", "artifacts", "--binary", binary,
         "--wheel", wheel, "--endpoint-url", aws],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    return dict(pair.split("=", 1) for pair in out.stdout.split() if pair != "--set")


def bootstrap(aws, tmp_path, *args):
    """bootstrap.sh as EMR runs it, with the venv's AWS CLI pointed at moto."""
    env = {**aws_environ(), "AWS_ENDPOINT_URL": aws, "MARKETPULSE_INSTALL_DIR": str(tmp_path / "bin")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return subprocess.run(["bash", EMR / "bootstrap.sh", *args], capture_output=True, text=True, env=env, check=False)


def test_publish_uploads_the_binary_by_version_with_its_sha256(aws, published, binary, wheel):
    assert published["BINARY_SHA256"] == hashlib.sha256(binary.read_bytes()).hexdigest()
    assert published["JOBS_SHA256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert published["JOBS_VERSION"] == "0.1.0"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout.split()[-1]
    assert published["VERSION"] == version
    keys = {o["Key"] for o in boto3.client("s3", endpoint_url=aws).list_objects_v2(Bucket="artifacts")["Contents"]}
    assert {f"bin/marketpulse-{version}", "emr/bootstrap.sh", "emr/fleet.py", "emr/lake.zip", "emr/install-jobs.sh"} <= keys
    assert {"jobs/marketpulse_jobs-0.1.0-py3-none-any.whl", "jobs/entrypoints/silver_to_gold.py"} <= keys


def test_publish_ships_the_repository_s_bootstrap_actions_and_a_driver_that_runs_with_its_zip_alone(
    aws, published, tmp_path
):
    s3 = boto3.client("s3", endpoint_url=aws)
    for name in ("bootstrap.sh", "install-jobs.sh"):
        assert s3.get_object(Bucket="artifacts", Key=f"emr/{name}")["Body"].read() == (EMR / name).read_bytes()
    step = tmp_path / "step"
    step.mkdir()
    for name in ("fleet.py", "lake.zip"):
        (step / name).write_bytes(s3.get_object(Bucket="artifacts", Key=f"emr/{name}")["Body"].read())
    assert (step / "fleet.py").read_bytes() == Path(fleet.__file__).read_bytes()
    with zipfile.ZipFile(step / "lake.zip") as z:
        assert z.read("marketpulse_deploy/layout.schema.json") == (REPO / "schemas" / "lake" / "layout.schema.json").read_bytes()
    # spark-submit runs it as a script with the zip on its path (--py-files): without the installed package or even
    # site-packages, it parses its step and finds the manifests in a lake.
    alone = {"PATH": os.environ["PATH"], "PYTHONPATH": str(step / "lake.zip")}
    done = subprocess.run([sys.executable, "-S", step / "fleet.py", "--shards", "0"],
                          capture_output=True, text=True, cwd=tmp_path, env=alone, check=False)  # fmt: skip
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1] == "fleet: error: --shards must be at least 1"
    manifests = tmp_path / "lake" / "_manifests"
    manifests.mkdir(parents=True)
    for name in ("3f9a0c1d2e4b5a69-shard-00001-of-00002.json", "3f9a0c1d2e4b5a69-shard-00000-of-00003.json", "_dataset.json"):
        (manifests / name).write_text(json.dumps({"name": name}))
    read = "import json, sys, fleet, marketpulse_deploy.lake as lake; print(json.dumps([fleet.read_manifests(sys.argv[1], 2), lake.__file__]))"
    done = subprocess.run([sys.executable, "-S", "-c", read, tmp_path / "lake"], capture_output=True, text=True,
                          cwd=step, env=alone, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    found, origin = json.loads(done.stdout)
    assert found == {"1": {"name": "3f9a0c1d2e4b5a69-shard-00001-of-00002.json"}}
    assert origin.startswith(str(step / "lake.zip")), origin


def test_publish_without_the_entry_points_names_the_folder(aws, binary, wheel, tmp_path):
    cmd = [Path(sys.executable).parent / "marketpulse-emr", "publish", "--bucket", "artifacts", "--binary", binary]
    done = subprocess.run([*cmd, "--wheel", wheel, "--endpoint-url", aws], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "marketpulse-emr: no entry points in jobs/entrypoints (run from the repository root or pass --entrypoints)"
    )


def test_bootstrap_installs_the_binary_when_its_sha256_matches(aws, published, binary, tmp_path):
    src = f"s3://artifacts/bin/marketpulse-{published['VERSION']}"
    done = bootstrap(aws, tmp_path, src, published["BINARY_SHA256"])
    assert done.returncode == 0, done.stderr
    installed = tmp_path / "bin" / "marketpulse"
    assert installed.read_bytes() == binary.read_bytes()
    assert os.access(installed, os.X_OK)
    assert f"installed marketpulse {published['VERSION']}" in done.stdout


@pytest.mark.parametrize(
    ("key", "sha", "message"),
    [
        ("bin/marketpulse-{VERSION}", "0" * 64, "{src} has SHA-256 {BINARY_SHA256}, not " + "0" * 64 + ": not installed"),
        ("bin/marketpulse-0.0.0", "{BINARY_SHA256}", "cannot download s3://artifacts/bin/marketpulse-0.0.0"),
        ("bin/marketpulse-{VERSION}", "abc", "abc is not a SHA-256 (64 hex digits)"),
    ],
)
def test_bootstrap_installs_nothing_on_a_bad_sha256_or_object(aws, published, tmp_path, key, sha, message):
    src = f"s3://artifacts/{key.format(**published)}"
    done = bootstrap(aws, tmp_path, src, sha.format(**published))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"bootstrap: {message.format(src=src, **published)}"
    assert not (tmp_path / "bin").exists()


def test_the_cluster_has_spot_task_nodes_and_the_fan_out_as_its_step(aws, published):
    emr = boto3.client("emr", endpoint_url=aws)
    values = {**VALUES, **published}
    step = emr_cluster.fleet_step(values, 40, ["--scale", "10", "--days", "30"])
    cluster = emr_cluster.create(emr, values, step)
    groups = {g["Name"]: g for g in emr.list_instance_groups(ClusterId=cluster)["InstanceGroups"]}
    assert {(g["InstanceGroupType"], g["Market"]) for g in groups.values()} == {
        ("MASTER", "ON_DEMAND"), ("CORE", "ON_DEMAND"), ("TASK", "SPOT"),
    }  # fmt: skip
    assert sum(1 for g in groups.values() if g["InstanceGroupType"] == "TASK") == 2
    (action,) = emr.list_bootstrap_actions(ClusterId=cluster)["BootstrapActions"]
    assert action["ScriptPath"] == "s3://artifacts/emr/bootstrap.sh"
    assert action["Args"] == [f"s3://artifacts/bin/marketpulse-{published['VERSION']}", published["BINARY_SHA256"]]
    (listed,) = emr.list_steps(ClusterId=cluster)["Steps"]
    args = listed["Config"]["Args"]
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    assert "spark.speculation=false" in args and "s3://artifacts/emr/fleet.py" in args
    assert args[args.index("--py-files") + 1] == "s3://artifacts/emr/lake.zip"
    assert args[args.index("--shards") + 1] == "40"
    # Every shard writes under the environment key.
    assert args[args.index("--") :] == ["--", "--out", "s3://raw/lake", "--sse-kms-key", VALUES["KMS_KEY_ARN"], "--scale", "10", "--days", "30"]
    described = emr.describe_cluster(ClusterId=cluster)["Cluster"]
    assert described["SecurityConfiguration"] == VALUES["SECURITY_CONFIGURATION"]
    spark = next(c for c in described["Configurations"] if c["Classification"] == "spark-defaults")
    assert spark["Properties"]["spark.speculation"] == "false"
    # YARN places application masters (the drivers, in cluster mode) on
    # on-demand nodes only with node labels on (ADR-011).
    yarn = next(c for c in described["Configurations"] if c["Classification"] == "yarn-site")
    assert yarn["Properties"] == {"yarn.node-labels.enabled": "true", "yarn.node-labels.am.default-node-label-expression": "ON_DEMAND"}


def finish_new_steps(cluster: str, state: str, reason: str) -> threading.Thread:
    """Plays EMR ending the next step added to `cluster` (moto never does)."""
    from moto.emr.models import emr_backends

    steps = emr_backends["123456789012"]["us-east-1"].clusters[cluster].steps
    before = {s.id for s in steps}

    def finish():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            new = [s for s in steps if s.id not in before]
            if new:
                new[0].last_state_change_reason = reason
                new[0].state = state
                return
            time.sleep(0.01)

    thread = threading.Thread(target=finish, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(("state", "code"), [("FAILED", 1), ("COMPLETED", 0)])
def test_the_submitter_waits_for_the_step_and_fails_when_it_fails(aws, published, capsys, state, code):
    values = {**VALUES, **published}
    emr = boto3.client("emr", endpoint_url=aws)
    cluster = emr_cluster.create(emr, values, emr_cluster.fleet_step(values, 4, []))
    finisher = finish_new_steps(cluster, state, "fleet: shard 3 of 4 failed after 4 attempt(s)")
    argv = ["add-step", "--cluster-id", cluster, "--shards", "4", "--poll-seconds", "0.05", "--endpoint-url", aws]
    argv += [f"--set={k}={v}" for k, v in values.items()]
    assert emr_cluster.main(argv) == code
    finisher.join()
    err = capsys.readouterr().err
    if code:
        assert f"on {cluster} ended FAILED: fleet: shard 3 of 4 failed after 4 attempt(s)" in err
    else:
        assert err == ""
