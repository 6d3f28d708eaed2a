"""The daily chain (infra/modules/orchestration), executed: the state
machine Terraform applied to dev chain_runs on the emulator's Step Functions
interpreter three times.

- a day that succeeds, started as the schedule starts it;
- a day the quality gate stops: the Fail state, and a message on the alarm
  topic;
- a transient error (Glue's ConcurrentRunsExceeded) that is retried.

The test plays the AWS services moto cannot finish by itself: it chain_runs the
quality gate's EMR step, as the chain submitted it, through the local step
runner against the metrics record the day left in S3 (marketpulse_local.emr),
ends bronze->silver's step after checking its arguments parse, and ends the
Data API statements after checking they are jobs/redshift/sql's. Batch jobs
end SUCCEEDED (the emulator's simple Batch); Glue job chain_runs end by themselves.
The definition also passes asl-validator."""

from __future__ import annotations

import json
import subprocess

import boto3
import pytest
from marketpulse_testkit import REPO

ASL_VALIDATOR = REPO / "infra" / "tests" / "access" / "node_modules" / ".bin" / "asl-validator"


def ended(execution: dict) -> dict:
    """An execution's end, for a failure message."""
    return {k: execution.get(k) for k in ("name", "status", "error", "cause")}


def task_names(history: list[dict]) -> list[str]:
    return [e["taskScheduledEventDetails"]["resource"] for e in history if e["type"] == "TaskScheduled"]


def test_a_day_runs_every_stage_in_order_and_ends_with_the_success_metric(chain_runs, applied, emulator):
    execution, history, gates = chain_runs["succeeds"]
    assert execution["status"] == "SUCCEEDED", ended(execution)
    assert json.loads(execution["output"])["day"] == chain_runs["day"]  # from the schedule's time
    stages = [t for i, t in enumerate(task_names(history)) if t not in task_names(history)[:i]]
    assert stages == [
        "submitJob.sync", "addJobFlowSteps", "describeStep", "startJobRun.sync", "startCrawler",
        "batchExecuteStatement", "describeStatement", "putMetricData",
    ]  # fmt: skip
    submitted = [json.loads(e["taskScheduledEventDetails"]["parameters"]) for e in history if e["type"] == "TaskScheduled"]
    produce, verify = [p for p in submitted if "JobQueue" in p]
    # .sync adds Step Functions' own MANAGED_BY_AWS entry (name/value, lower case) to the job's.
    env = {e["Name"]: e["Value"] for e in produce["ContainerOverrides"]["Environment"] if "Name" in e}
    day = chain_runs["day"]
    lake = f"s3://{applied['dev']['buckets']['raw']}/daily/{day}/"
    assert env["MARKETPULSE_OUT"] == lake and env["MARKETPULSE_START"] == day and env["MARKETPULSE_DAYS"] == "1"
    assert produce["ArrayProperties"]["Size"] == int(env["MARKETPULSE_SHARD_COUNT"]) > 1
    assert verify["ContainerOverrides"]["Command"] == ["verify", lake]
    (gate,) = gates
    assert gate.returncode == 0 and "quality gate passed" in gate.stdout
    metric = boto3.client("cloudwatch", endpoint_url=emulator).list_metrics(Namespace="MarketPulse/Chain")["Metrics"]
    assert {m["MetricName"] for m in metric} == {"DaySucceeded"}


def test_the_marts_load_is_jobs_redshift_sql_in_one_batch_and_the_smoke_query_runs_as_bi(chain_runs, applied):
    load, smoke = chain_runs["statements"][:2]
    params = applied["dev"]["redshift_sql_params"]
    text = (REPO / "jobs" / "redshift" / "sql" / "load" / "copy_marts.sql").read_text()
    for key, value in params.items():
        text = text.replace(f"{{{{ {key} }}}}", value)
    lines = [line.split("--")[0] for line in text.splitlines()]
    expected = [" ".join(s.split()) for s in "\n".join(lines).split(";") if s.strip() and s.strip().upper() not in ("BEGIN", "COMMIT")]
    assert load == expected and any(s.startswith("COPY stage_conversion_rates") for s in load)
    assert smoke[0] == "SET query_group TO 'bi'" and smoke[1].startswith("SELECT")


def test_a_day_above_the_quality_gate_fails_before_gold_and_is_reported(chain_runs):
    execution, history, gates = chain_runs["blocked"]
    assert execution["status"] == "FAILED" and execution["error"] == "QualityGate.Blocked", ended(execution)
    (gate,) = gates
    assert gate.returncode == 3
    assert "clicks quarantined 20.00% (2,000 of 10,000 records), above its threshold of 5.00%" in gate.stderr
    assert "startJobRun.sync" not in task_names(history) and "batchExecuteStatement" not in task_names(history)
    (alarm,) = [a for a in chain_runs["alarms"] if chain_runs["blocked_day"] in a["Message"]]
    assert "quality gate blocked" in alarm["Message"] and alarm["Subject"].endswith("quality gate blocked a day")


def test_a_transient_error_is_retried_and_the_day_runs_again_alike(chain_runs):
    execution, history, _ = chain_runs["retried"]
    assert execution["status"] == "SUCCEEDED", ended(execution)
    failed = [e["taskFailedEventDetails"] for e in history if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed if f["resource"] == "startJobRun.sync"] == ["Glue.ConcurrentRunsExceededException"]
    # The crawler the first day started may still run: caught, the chain goes on.
    assert {f["error"] for f in failed if f["resource"] != "startJobRun.sync"} <= {"Glue.CrawlerRunningException"}
    assert task_names(history).count("startJobRun.sync") == 2
    first = [e for e in chain_runs["succeeds"][1] if e["type"] == "TaskScheduled"]
    again = [e for e in history if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resource"] != "startJobRun.sync"]
    # The same day, the same calls: every stage replaces what it wrote.
    strip = [e for e in first if e["taskScheduledEventDetails"]["resource"] not in ("startJobRun.sync", "describeStep", "describeStatement")]
    same = [e for e in again if e["taskScheduledEventDetails"]["resource"] not in ("describeStep", "describeStatement")]
    assert [e["taskScheduledEventDetails"]["parameters"] for e in strip] == [e["taskScheduledEventDetails"]["parameters"] for e in same]
    assert not [a for a in chain_runs["alarms"] if chain_runs["day"] in a["Message"]]


def test_the_schedules_start_the_chain_and_pause_dev_s_redshift(applied, emulator):
    out = applied["dev"]
    scheduler = boto3.client("scheduler", endpoint_url=emulator)
    group = "marketpulse-dev"
    chain = scheduler.get_schedule(Name="marketpulse-dev-daily-chain", GroupName=group)
    assert chain["Target"]["Arn"] == out["chain_state_machine_arn"] and chain["Target"]["RoleArn"] == out["role_arns"]["scheduler"]
    assert json.loads(chain["Target"]["Input"])["scheduled_time"] == "<aws.scheduler.scheduled-time>"
    assert chain["ScheduleExpression"].startswith("cron(") and chain["ScheduleExpressionTimezone"]
    for action in ("pause", "resume"):
        found = scheduler.get_schedule(Name=f"marketpulse-dev-redshift-{action}", GroupName=group)
        assert found["Target"]["Arn"] == f"arn:aws:scheduler:::aws-sdk:redshift:{action}Cluster"
        assert json.loads(found["Target"]["Input"]) == {"ClusterIdentifier": "marketpulse-dev"}


def test_the_applied_definition_passes_asl_validator(applied, emulator):
    if not ASL_VALIDATOR.exists():
        pytest.skip(f"asl-validator is not installed at {ASL_VALIDATOR} (make test installs it: npm ci in infra/tests/access)")
    sfn = boto3.client("stepfunctions", endpoint_url=emulator)
    definition = sfn.describe_state_machine(stateMachineArn=applied["dev"]["chain_state_machine_arn"])["definition"]
    done = subprocess.run([str(ASL_VALIDATOR), "--json-definition", definition], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

