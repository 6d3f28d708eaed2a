"""One emulator (moto, patched by emulator.py), one copy of infra/ with the
emulator's provider overrides and one bootstrap apply per test run, and the
daily chain's executions on dev, shared by test_chain.py and the access
ledger; the Terraform CLI settings (tf_env) come from marketpulse_testkit's
plugin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from marketpulse_jobs import bronze_to_silver
from marketpulse_local import emr
from marketpulse_testkit import REPO, MotoServer
from marketpulse_testkit.aws import AWS_ENV, aws_environ, fake_credentials
from marketpulse_testkit.terraform import (
    APPLY,
    DESTROY,
    Terraform,
    need_terraform,
    var_file,
)

SERVICES = [
    "s3", "dynamodb", "sts", "iam", "kms", "ec2", "glue", "emr", "redshift", "ecs", "logs", "cloudwatch",
    "sns", "budgets", "kinesis", "firehose", "batch", "events", "ecr", "secretsmanager", "sfn", "scheduler",
]  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The daily chain's executions (test_chain.py) add steps and runs to
    dev, so they come after the plans that check dev is as applied. The
    access ledger (test_access.py) runs the producer, which the build beside
    this suite makes: it runs after every other applied test, and the
    destroys after it (prod's runs beside the ledger: prod_teardown)."""
    access = [i for i in items if i.module.__name__.endswith("test_access")]
    chain = [i for i in items if i.module.__name__.endswith("test_chain")]
    destroy = [i for i in items if i.name in ("test_prod_is_destroyed_whole", "test_dev_is_destroyed_whole")]
    rest = [i for i in items if i not in access and i not in chain and i not in destroy]
    items[:] = rest + chain + access + destroy


@pytest.fixture(scope="session")
def emulator():
    """moto with the provider's missing answers, on 127.0.0.1; yields its URL."""
    need_terraform()
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    with MotoServer(Path(__file__).with_name("emulator.py"), env=env, start_seconds=60) as server, fake_credentials():
        yield server.url  # the tests' boto3 clients take the credentials from os.environ


# Three retries: the emulator's HTTP server drops idle keep-alive
# connections, which the provider sees as a failed request when the
# machine is busy; a 500 for a call the emulator lacks retries only thrice.
def provider_override(url: str) -> str:
    endpoints = "\n".join(f'    {s} = "{url}"' for s in SERVICES)
    return f"""# Written by infra/tests: the emulator run's provider settings.
provider "aws" {{
  access_key                  = "{AWS_ENV['AWS_ACCESS_KEY_ID']}"
  secret_key                  = "{AWS_ENV['AWS_SECRET_ACCESS_KEY']}"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  max_retries                 = 3
  endpoints {{
{endpoints}
  }}
}}
"""


@pytest.fixture(scope="session")
def workdir(emulator, tmp_path_factory) -> Path:
    """infra/ copied, with the emulator's provider override in each stack."""
    root = tmp_path_factory.mktemp("infra") / "infra"
    shutil.copytree(REPO / "infra", root, ignore=shutil.ignore_patterns(".terraform", "tests", "*.tfstate*"))
    # Modules reference deploy/ templates and the jobs' Spark settings
    # relative to the repository.
    for beside in ("deploy", "jobs"):
        (root.parent / beside).symlink_to(REPO / beside)
    for stack in (root, root / "bootstrap"):
        (stack / "providers_override.tf").write_text(provider_override(emulator))
    return root


@pytest.fixture(scope="session")
def bootstrap(workdir, tf_env) -> dict:
    """The bootstrap stack applied (local state); its outputs."""
    tf = Terraform(workdir / "bootstrap", tf_env)
    tf.run("init", "-input=false", "-no-color")
    tf.run("apply", "-auto-approve", "-input=false", "-no-color")
    return {k: v["value"] for k, v in json.loads(tf.run("output", "-json").stdout).items()}


@pytest.fixture(scope="session")
def platform(workdir, tf_env, bootstrap, emulator) -> Terraform:
    """The root stack, initialised against the bootstrap's S3 backend and lock table."""
    tf = Terraform(workdir, tf_env)
    backend = workdir / "emulator.s3.tfbackend"
    cfg = bootstrap["backend_config"]
    backend.write_text(
        f'bucket         = "{cfg["bucket"]}"\n'
        f'key            = "{cfg["key"]}"\n'
        f'region         = "{cfg["region"]}"\n'
        f'dynamodb_table = "{cfg["dynamodb_table"]}"\n'
        "encrypt        = true\n"
        "use_path_style = true\n"
        "skip_credentials_validation = true\n"
        "skip_requesting_account_id  = true\n"
        "skip_metadata_api_check     = true\n"
        "skip_region_validation      = true\n"
        f'endpoints = {{\n  s3 = "{emulator}"\n  dynamodb = "{emulator}"\n  sts = "{emulator}"\n  iam = "{emulator}"\n}}\n'
    )
    tf.run("init", "-input=false", "-no-color", f"-backend-config={backend}")
    for ws in ("dev", "stg", "prod"):
        tf.run("workspace", "new", ws, "-no-color")
    return tf


@pytest.fixture(scope="session")
def applied(platform, emulator):
    """dev and prod applied (side by side); yields each one's outputs, then destroys what is left."""
    started = {env: platform.start(*APPLY, *var_file(env), workspace=env) for env in ("dev", "prod")}
    for env, proc in started.items():
        platform.finish(proc, ("apply", env), timeout=900)
    outputs = {
        env: {k: v["value"] for k, v in json.loads(platform.run("output", "-json", workspace=env).stdout).items()}
        for env in started
    }
    yield outputs
    for env in ("dev", "prod"):  # after a failure before the destroy tests
        if platform.run("state", "list", check=False, workspace=env).stdout.strip():
            platform.run(*APPLY, *var_file(env), "-var=force_destroy=true", check=False, workspace=env)
            platform.run(*DESTROY, *var_file(env), "-var=force_destroy=true", check=False, workspace=env)


@pytest.fixture(scope="session")
def prod_teardown(platform, applied):
    """prod torn down in the background, as docs/runbooks/teardown.md says
    (an apply with force_destroy, since access logs keep arriving, then the
    destroy); yields the future of both runs. The access ledger, which needs
    dev only, starts it so that the two wait on the emulator together;
    test_prod_is_destroyed_whole waits for it."""

    def teardown() -> list:
        done = [platform.run(*APPLY, *var_file("prod"), "-var=force_destroy=true", check=False, workspace="prod")]
        if done[0].returncode == 0:
            done.append(platform.run(*DESTROY, *var_file("prod"), "-var=force_destroy=true", check=False,
                                     workspace="prod", timeout=900))  # fmt: skip
        return done

    with ThreadPoolExecutor(1) as pool:
        future: Future = pool.submit(teardown)
        yield future


# The daily chain's executions (infra/modules/orchestration), shared by
# test_chain.py and the access ledger. The days they process:
DAY = "2025-01-06"
BLOCKED_DAY = "2025-01-07"


def hook(emulator: str, name: str, body) -> None:
    """The emulator's test hooks (emulator.py): end a step or statement, inject a fault."""
    request = urllib.request.Request(f"{emulator}/moto-api/chain/{name}", data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


class World:
    """What AWS would do while an execution runs, for what moto leaves hanging."""

    def __init__(self, emulator: str, out: dict, tmp_path):
        self.emulator, self.out, self.tmp_path = emulator, out, tmp_path
        self.sfn = boto3.client("stepfunctions", endpoint_url=emulator)
        self.emr = boto3.client("emr", endpoint_url=emulator)
        self.s3 = boto3.client("s3", endpoint_url=emulator)
        self.gate_runs: list[subprocess.CompletedProcess] = []
        self.statements: list[list[str]] = []
        self.count = 0

    def run(self, execution_input: dict, seconds: float = 120) -> tuple[dict, list[dict]]:
        self.count += 1
        arn = self.sfn.start_execution(
            stateMachineArn=self.out["chain_state_machine_arn"], name=f"test-{self.count}", input=json.dumps(execution_input)
        )["executionArn"]
        handled: set[int] = set()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            events = self.history(arn)
            for event in events:
                if event["id"] not in handled and event["type"] == "TaskSucceeded":
                    handled.add(event["id"])
                    self.answer(json.loads(event["taskSucceededEventDetails"]["output"]), event["taskSucceededEventDetails"]["resource"])
            found = self.sfn.describe_execution(executionArn=arn)
            if found["status"] != "RUNNING":
                return found, self.history(arn)
            time.sleep(0.2)
        pytest.fail(f"the execution {execution_input} did not end in {seconds} s")

    def history(self, arn: str) -> list[dict]:
        pages = self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        return [e for page in pages for e in page["events"]]

    def answer(self, output: dict, resource: str) -> None:
        if resource == "addJobFlowSteps":
            (step_id,) = output["StepIds"]
            step = self.emr.describe_step(ClusterId=self.out["emr_cluster_id"], StepId=step_id)["Step"]
            args = step["Config"]["Args"]
            if "marketpulse_jobs.gate" in args:
                env = {**aws_environ(), "AWS_ENDPOINT_URL": self.emulator}
                node = emr.LocalNode(self.tmp_path / "node", env)
                done = emr.run({"Name": step["Name"], "HadoopJarStep": {"Jar": step["Config"]["Jar"], "Args": args}}, node, timeout=120)
                self.gate_runs.append(done)
                state = "COMPLETED" if done.returncode == 0 else "FAILED"
            else:
                script = next(i for i, a in enumerate(args) if a.endswith("/bronze_to_silver.py"))
                bronze_to_silver.parse_args(args[script + 1 :])  # exits on an argument the job refuses
                state = "COMPLETED"
            hook(self.emulator, "emr-step", {"StepId": step_id, "State": state})
        elif resource == "batchExecuteStatement":
            described = boto3.client("redshift-data", endpoint_url=self.emulator).describe_statement(Id=output["Id"])
            self.statements.append([s["QueryString"] for s in described.get("SubStatements", [])])
            hook(self.emulator, "redshift-statement", {"Id": output["Id"], "Status": "FINISHED"})


def metrics(quarantined: int) -> bytes:
    """bronze->silver's metrics record of a day: clicks with this many of 10,000 quarantined."""
    tables = {"clicks": {"rows_in": 10_000, "quarantined": quarantined}, "sales": {"rows_in": 1_000, "quarantined": 10}}
    return json.dumps({"job": "bronze_to_silver", "tables": tables}).encode()


@pytest.fixture(scope="session")
def chain_runs(applied, emulator, tmp_path_factory) -> dict:
    """The daily chain's three executions on dev (test_chain.py), with what
    the world saw of each; the access ledger derives the chain's calls from
    their histories."""
    out = applied["dev"]
    world = World(emulator, out, tmp_path_factory.mktemp("chain"))
    silver = out["buckets"]["silver"]
    world.s3.put_object(Bucket=silver, Key=f"_metrics/bronze_to_silver/{DAY}.json", Body=metrics(100))
    world.s3.put_object(Bucket=silver, Key=f"_metrics/bronze_to_silver/{BLOCKED_DAY}.json", Body=metrics(2_000))
    sqs = boto3.client("sqs", endpoint_url=emulator)
    queue = sqs.create_queue(QueueName="chain-alarms")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns", endpoint_url=emulator).subscribe(TopicArn=out["alarm_topic_arn"], Protocol="sqs", Endpoint=queue_arn)
    found = {"day": DAY, "blocked_day": BLOCKED_DAY}
    # As the schedule starts it: its time, whose UTC date is the day.
    found["succeeds"] = world.run({"scheduled_time": f"{DAY}T01:30:00Z", "poll_seconds": 1}) + (list(world.gate_runs),)
    world.gate_runs.clear()
    found["blocked"] = world.run({"day": BLOCKED_DAY, "poll_seconds": 1}) + (list(world.gate_runs),)
    world.gate_runs.clear()
    hook(emulator, "faults", [{"Service": "glue", "Operation": "StartJobRun", "Code": "ConcurrentRunsExceededException", "Count": 1}])
    try:
        found["retried"] = world.run({"day": DAY, "poll_seconds": 1}) + (list(world.gate_runs),)
    finally:
        hook(emulator, "faults", [])
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    found["alarms"] = [json.loads(m["Body"]) for m in messages]
    found["statements"] = world.statements
    return found


