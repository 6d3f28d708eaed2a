"""The installed marketpulse_deploy: each command runs as its console script
and as `python -m`, a bad argument or an AWS error is one line on stderr,
the EMR files it uploads and renders are deploy/emr's as they are, and it
knows shard manifests and journals by the lake's layout contract."""

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
from marketpulse_deploy import lake
from marketpulse_deploy.emr import fleet
from marketpulse_testkit import REPO, free_port
from marketpulse_testkit.aws import aws_environ

COMMANDS = {
    "marketpulse-ecs-launch": "marketpulse_deploy.ecs.launcher",
    "marketpulse-batch-submit": "marketpulse_deploy.batch.array_job",
    "marketpulse-emr": "marketpulse_deploy.emr.cluster",
}
ECS_VALUES = ["--set", "ACCOUNT_ID=123456789012", "--set", "ENV=dev", "--set", "REGION=us-east-1", "--set", "IMAGE=i",
              "--set", "KMS_KEY_ARN=arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"]  # fmt: skip


def command(*argv, env=None) -> subprocess.CompletedProcess:
    # One attempt: an unreachable endpoint fails at once.
    env = {**aws_environ(), "AWS_MAX_ATTEMPTS": "1", **(env or {})}
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, check=False)


@pytest.mark.parametrize(("script", "module"), COMMANDS.items())
def test_each_command_runs_as_a_script_and_as_a_module(script, module):
    as_script = command(Path(sys.executable).parent / script, "--help")
    as_module = command(sys.executable, "-m", module, "--help")
    assert as_script.returncode == as_module.returncode == 0, as_script.stderr + as_module.stderr
    assert as_script.stdout == as_module.stdout
    assert as_script.stdout.startswith(f"usage: {script} ")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["marketpulse-batch-submit", "--register", "deploy/batch/job-definition.json"], 2,
         "marketpulse-batch-submit: no value for ACCOUNT_ID, ENV, IMAGE, KMS_KEY_ARN (pass --set NAME=value)"),
        (["marketpulse-ecs-launch", "--register", "deploy/ecs/missing.json"], 2,
         "marketpulse-ecs-launch: cannot read deploy/ecs/missing.json: No such file or directory"),
        (["marketpulse-emr", "create", "--shards", "2", "--set", "LAKE"], 2,
         "marketpulse-emr: --set 'LAKE' is not NAME=value"),
        (["marketpulse-emr", "publish", "--bucket", "b", "--binary", "target/missing"], 1,
         "marketpulse-emr: target/missing is not a runnable marketpulse binary"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(argv, code, message):
    done = command(Path(sys.executable).parent / argv[0], *argv[1:])
    assert done.returncode == code
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith(message), done.stderr


def test_an_aws_error_is_one_line():
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    script = Path(sys.executable).parent / "marketpulse-ecs-launch"
    done = command(script, "--register", "deploy/ecs/task-definition.json", *ECS_VALUES, "--endpoint-url", endpoint)
    assert done.returncode == 1
    assert done.stderr.strip() == f'marketpulse-ecs-launch: Could not connect to the endpoint URL: "{endpoint}/"'


@pytest.mark.parametrize("name", ["cluster.json", "steps/fleet.json", "steps/bronze_to_silver.json", "steps/quality_gate.json",
                                  "steps/spark_pi.json", "bootstrap.sh", "install-jobs.sh"])  # fmt: skip
def test_the_emr_files_inside_the_package_are_the_repository_s(name):
    assert (files("marketpulse_deploy.emr") / name).read_bytes() == (REPO / "deploy" / "emr" / name).read_bytes()


def test_shard_manifests_and_journals_are_known_by_the_layout_contract():
    source = REPO / "schemas" / "lake" / "layout.schema.json"
    assert (files("marketpulse_deploy") / "layout.schema.json").read_bytes() == source.read_bytes()
    contract = json.loads(source.read_text())["$defs"]
    assert lake.MANIFEST.pattern == contract["manifestFile"]["pattern"]
    assert lake.JOURNAL.pattern == contract["journalSegment"]["pattern"]
    assert f"{lake.MANIFEST_DIR}/_dataset.json" == contract["datasetClaim"]["const"]
    # The fleet driver reads manifests with the same reader.
    assert fleet.manifest_shard is lake.manifest_shard and fleet.MANIFEST_DIR == lake.MANIFEST_DIR
    (manifest,) = contract["manifestFile"]["examples"]
    (segment,) = contract["journalSegment"]["examples"]
    (shard_lock,) = contract["shardLock"]["examples"]
    assert lake.manifest_shard(manifest) == lake.journal_shard(segment) == (0, 1)
    for other in (contract["datasetClaim"]["const"], shard_lock, segment):
        assert lake.manifest_shard(other) is None, other
    for other in (contract["datasetClaim"]["const"], shard_lock, manifest):
        assert lake.journal_shard(other) is None, other
