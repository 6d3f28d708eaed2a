"""AWS Batch against moto. With podman, moto really runs the array job's
children from the producer's image (podman's socket as its Docker): each
child takes its shard from Batch's own variables, and the union of their
lakes equals one process's, byte for byte. Without podman, the job
definition and the array submission are still checked against moto."""

import json
import os
import subprocess
import urllib.request

import boto3
import pytest
from marketpulse_deploy.batch import array_job
from marketpulse_deploy.templates import render
from marketpulse_testkit import REPO, MotoServer, data_files
from marketpulse_testkit.aws import fake_credentials
from marketpulse_testkit.podman import IMAGE

# Batch runs the children as containers (podman), through the fixture below.
pytestmark = pytest.mark.container
SETTINGS = {"MARKETPULSE_SCALE": "0.001", "MARKETPULSE_DAYS": "1", "MARKETPULSE_SEED": "5"}
VALUES = {"ACCOUNT_ID": "123456789012", "ENV": "dev", "IMAGE": IMAGE, "KMS_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}


@pytest.fixture(scope="module")
def batch_moto(request, tmp_path_factory):
    """A moto server whose Batch runs containers through podman's socket,
    or the session's moto with Batch's containers off when podman is absent."""
    import shutil

    if shutil.which("podman") is None:
        url = request.getfixturevalue("moto")
        body = json.dumps({"batch": {"use_docker": False}}).encode()
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/config", data=body))
        yield url, False
        return
    env = request.getfixturevalue("podman_image")
    sock = tmp_path_factory.mktemp("podman") / "podman.sock"
    service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{sock}"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    moto_env = dict(env, DOCKER_HOST=f"unix://{sock}", MOTO_DOCKER_NETWORK_MODE="none")
    try:
        with MotoServer(env=moto_env) as server, fake_credentials():
            yield server.url, True
    finally:
        service.terminate()
        service.wait(timeout=10)


def queue(url: str) -> str:
    ec2, iam = boto3.client("ec2", endpoint_url=url), boto3.client("iam", endpoint_url=url)
    batch = boto3.client("batch", endpoint_url=url)
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc)["GroupId"]
    role = iam.create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName="batch-ecs")["InstanceProfile"]["Arn"]
    resources = {"type": "SPOT", "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED", "minvCpus": 0, "maxvCpus": 4,
                 "instanceTypes": ["optimal"], "subnets": [subnet], "securityGroupIds": [group],
                 "instanceRole": profile}  # fmt: skip
    env = batch.create_compute_environment(computeEnvironmentName="spot", type="MANAGED", state="ENABLED",
                                           computeResources=resources, serviceRole=role)  # fmt: skip
    order = [{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}]
    return batch.create_job_queue(jobQueueName="producers", state="ENABLED", priority=1,
                                  computeEnvironmentOrder=order)["jobQueueArn"]  # fmt: skip


def test_an_array_job_of_three_children_writes_the_single_process_lake(batch_moto, binary, tmp_path):
    url, runs_containers = batch_moto
    batch = boto3.client("batch", endpoint_url=url)
    path = REPO / "deploy" / "batch" / "job-definition.json"
    arn = array_job.register(batch, str(path), VALUES)
    d = batch.describe_job_definitions(jobDefinitions=[arn])["jobDefinitions"][0]
    reclaim = d["retryStrategy"]["evaluateOnExit"][0]
    assert (reclaim["onStatusReason"], reclaim["action"].upper()) == ("Host EC2*", "RETRY")
    environment = {e["name"]: e["value"] for e in d["containerProperties"]["environment"]}
    assert environment["MARKETPULSE_SSE_KMS_KEY"] == VALUES["KMS_KEY_ARN"]
    # The same definition with a host folder for the lake: moto's containers
    # have no network to reach S3.
    lake = tmp_path / "lake"
    lake.mkdir()
    lake.chmod(0o777)  # the image's user (10001) writes it
    local = render(path.read_text(), VALUES)
    local["jobDefinitionName"] = "marketpulse-producer-local"
    props = local["containerProperties"]
    # A folder has no server-side encryption: the producer refuses the key there.
    props["environment"] = [e for e in props["environment"] if e["name"] != "MARKETPULSE_SSE_KMS_KEY"]
    props["volumes"] = [{"name": "lake", "host": {"sourcePath": str(lake)}}]
    props["mountPoints"] = [{"sourceVolume": "lake", "containerPath": "/lake", "readOnly": False}]
    local_arn = batch.register_job_definition(**local)["jobDefinitionArn"]
    env = {**SETTINGS, "MARKETPULSE_OUT": "/lake"}
    job = array_job.submit(batch, queue(url), local_arn, 3, None, env)
    if not runs_containers:
        assert batch.describe_jobs(jobs=[job])["jobs"][0]["arrayProperties"]["size"] == 3
        pytest.skip("podman is not installed: the definition and the submission were checked, no child ran")
    kids = array_job.wait(batch, job, 3, poll_seconds=0.5, timeout_seconds=120)
    assert [k["status"] for k in kids] == ["SUCCEEDED"] * 3, [k.get("statusReason") for k in kids]
    logs = boto3.client("logs", endpoint_url=url)
    for i, k in enumerate(kids):
        said = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=k["container"]["logStreamName"])
        assert any(f"shard {i} of 3, index from AWS_BATCH_JOB_ID" in e["message"] for e in said["events"])
    native = tmp_path / "native"
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPULSE_")}
    flags = ["--scale", "0.001", "--days", "1", "--seed", "5"]
    subprocess.run([binary, "generate", "--out", native, "--quiet", *flags], check=True, capture_output=True,
                   env=clean_env)  # fmt: skip
    got, want = data_files(lake), data_files(native)
    assert got and got == want
    assert subprocess.run([binary, "verify", lake], capture_output=True, check=False).returncode == 0
