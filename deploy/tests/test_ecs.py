"""The ECS fleet against moto: the Fargate task definition registers (botocore
checks it against the API model), the launcher gives each task its shard,
and a stopped task whose shard the lake does not hold complete (a spot
reclaim) starts again with --resume, until its attempts run out."""

import json
import urllib.request

import boto3
import pytest
from marketpulse_deploy.ecs import launcher
from marketpulse_deploy.templates import TemplateError, render
from marketpulse_testkit import REPO, aws_run

SMALL = ["--scale", "0.002", "--days", "1", "--shard-count", "3"]
VALUES = {"ACCOUNT_ID": "123456789012", "ENV": "dev", "REGION": "us-east-1", "IMAGE": "marketpulse:test",
          "KMS_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}  # fmt: skip


@pytest.fixture(scope="module")
def aws(moto):
    # moto moves a task one status per describe call; make a stop immediate.
    body = json.dumps({"model_name": "ecs::task", "transition": {"progression": "immediate"}}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{moto}/moto-api/state-manager/set-transition", data=body))
    ec2 = boto3.client("ec2", endpoint_url=moto)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="producer", Description="producer", VpcId=vpc)["GroupId"]
    ecs = boto3.client("ecs", endpoint_url=moto)
    ecs.create_cluster(clusterName="fleet", capacityProviders=["FARGATE", "FARGATE_SPOT"])
    arn = launcher.register(ecs, str(REPO / "deploy" / "ecs" / "task-definition.json"), VALUES)
    return ecs, arn, subnet, group


def env_of(ecs, task_arn: str) -> dict[str, str]:
    (task,) = ecs.describe_tasks(cluster="fleet", tasks=[task_arn])["tasks"]
    (override,) = task["overrides"]["containerOverrides"]
    return {e["name"]: e["value"] for e in override["environment"]}


def test_the_task_definition_registers_as_written(aws):
    ecs, arn, _, _ = aws
    d = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    (c,) = d["containerDefinitions"]
    assert (d["cpu"], d["memory"], d["networkMode"]) == ("1024", "2048", "awsvpc")
    assert c["logConfiguration"]["logDriver"] == "awslogs" and c["readonlyRootFilesystem"] is True
    assert {"name": "MARKETPULSE_EMF", "value": "true"} in c["environment"]
    assert {"name": "MARKETPULSE_SSE_KMS_KEY", "value": VALUES["KMS_KEY_ARN"]} in c["environment"]
    with pytest.raises(TemplateError, match="no value for IMAGE"):
        render('{"image": "${IMAGE}"}', {})


def test_each_task_gets_its_shard_and_a_reclaimed_one_resumes(aws, moto, binary):
    """moto runs no container: the shards' lake is written by the real
    producer, as the tasks would, and the launcher judges by it."""
    ecs, arn, subnet, group = aws
    s3 = boto3.client("s3", endpoint_url=moto)
    s3.create_bucket(Bucket="fleet-lake")
    lake = "s3://fleet-lake/run"
    fleet = launcher.Fleet(ecs, s3, "fleet", arn, lake, 3, [subnet], [group], {"MARKETPULSE_SCALE": "0.002"},
                         max_attempts=2)  # fmt: skip
    fleet.start()
    first = {i: s.task for i, s in fleet.state.items()}
    for i, task in first.items():
        env = env_of(ecs, task)
        assert (env["MARKETPULSE_SHARD_INDEX"], env["MARKETPULSE_SHARD_COUNT"]) == (str(i), "3")
        assert env["MARKETPULSE_OUT"] == lake and env["MARKETPULSE_SCALE"] == "0.002"
        assert "MARKETPULSE_RESUME" not in env
    for i in ("0", "2"):  # these two finish; shard 1's spot capacity is reclaimed
        aws_run(binary, "generate", "--out", lake, *SMALL, "--shard-index", i, endpoint=moto)
    ecs.stop_task(cluster="fleet", task=first[1], reason="Spot capacity reclaimed")
    assert fleet.poll() is False
    assert fleet.state[0].done and fleet.state[2].done and not fleet.state[1].done
    again = fleet.state[1].task
    assert again and again != first[1] and fleet.state[1].attempts == 2
    env = env_of(ecs, again)
    assert env["MARKETPULSE_SHARD_INDEX"] == "1" and env["MARKETPULSE_RESUME"] == "true"
    aws_run(binary, "generate", "--out", lake, *SMALL, "--shard-index", "1", "--resume", endpoint=moto)
    assert fleet.poll() is True and fleet.failed() == []
    assert "shard 1: done after 2 attempt(s); attempt 1: Spot capacity reclaimed" in fleet.report()
    assert aws_run(binary, "verify", lake, endpoint=moto, check=False).returncode == 0


def test_a_shard_that_never_completes_is_named(aws, moto):
    ecs, arn, subnet, group = aws
    s3 = boto3.client("s3", endpoint_url=moto)
    s3.create_bucket(Bucket="fleet-empty")
    fleet = launcher.Fleet(ecs, s3, "fleet", arn, "s3://fleet-empty/run", 1, [subnet], [group], max_attempts=2)
    fleet.start()
    assert fleet.poll() is False  # stopped without a manifest: started again
    assert fleet.poll() is True and fleet.failed() == [0]
    assert "shard 0: FAILED after 2 attempt(s)" in fleet.report()
