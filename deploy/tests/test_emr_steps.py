"""EMR steps run from the files production submits (deploy/emr/steps), on
this machine through marketpulse_local.emr: the SparkPi acceptance step on
the local Spark, and the data-quality gate step reading bronze->silver's
metrics from S3 (moto). The fleet and bronze->silver steps run the same
way in the access ledger (infra/tests/test_access.py), under the nodes' role
on the applied stack."""

import json
import os
import re
import sys

import boto3
import pytest
from marketpulse_deploy.templates import render
from marketpulse_local import emr
from marketpulse_testkit import REPO
from marketpulse_testkit.aws import aws_environ
from marketpulse_testkit.spark import JAVA17

STEPS = REPO / "deploy" / "emr" / "steps"
LOCAL_SPARK = ["spark.driver.host=127.0.0.1", "spark.driver.bindAddress=127.0.0.1", "spark.ui.enabled=false"]


def node(tmp_path, **env) -> emr.LocalNode:
    base = {**aws_environ(), "JAVA_HOME": str(JAVA17), "PYSPARK_PYTHON": sys.executable, **env}
    return emr.LocalNode(workdir=tmp_path / "node", env=base, confs=LOCAL_SPARK)


@pytest.mark.slow  # a JVM of its own: spark-submit, as on a node
def test_the_spark_pi_acceptance_step_runs_from_its_definition(tmp_path):
    step = json.loads((STEPS / "spark_pi.json").read_text())
    local = node(tmp_path)
    done = emr.run(step, local, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    pi = re.search(r"^Pi is roughly (\d\.\d+)$", done.stdout, re.MULTILINE)
    assert pi and abs(float(pi.group(1)) - 3.1416) < 0.05, done.stdout[-2000:]
    assert any("client mode" in n for n in local.notes), local.notes
    if emr.examples_jar() is None:
        assert any("pi.py" in n for n in local.notes), local.notes


@pytest.mark.parametrize(("quarantined", "code"), [(40, 0), (400, 3)])
def test_the_quality_gate_step_passes_or_blocks_on_the_metrics_in_s3(tmp_path, moto_s3, quarantined, code):
    s3 = boto3.client("s3", endpoint_url=moto_s3)
    s3.create_bucket(Bucket="silver-gate")
    metrics = {"tables": {"clicks": {"rows_in": 4000, "quarantined": quarantined}}}
    s3.put_object(Bucket="silver-gate", Key="_metrics/bronze_to_silver/d1.json", Body=json.dumps(metrics).encode())
    step = render((STEPS / "quality_gate.json").read_text(), {"SILVER_BUCKET": "silver-gate", "RUN_ID": "d1", "INGEST_DATE": "2025-01-06"})
    done = emr.run(step, node(tmp_path, AWS_ENDPOINT_URL=moto_s3), timeout=120)
    assert done.returncode == code, done.stderr
    if code:
        assert done.stderr.strip() == (
            "quality gate blocked the day: clicks quarantined 10.00% (400 of 4,000 records), above its threshold of 5.00%"
        )


@pytest.mark.parametrize(
    ("hadoop_jar_step", "message"),
    [
        ({"Jar": "s3://b/custom.jar", "Args": []}, "only command-runner.jar steps run locally"),
        ({"Jar": "command-runner.jar", "Args": ["hive-script", "--run-hive-script"]}, "'hive-script' has no local runner"),
        ({"Jar": "command-runner.jar", "Args": ["spark-submit", "--frobnicate", "x", "app.py"]}, "option --frobnicate"),
        ({"Jar": "command-runner.jar", "Args": ["spark-submit", "--conf", "a=b"]}, "names no application"),
        ({"Jar": "command-runner.jar", "Args": ["spark-submit", "s3://b/app.py"]}, "no S3 client to fetch it"),
    ],
)
def test_a_step_the_runner_cannot_run_is_refused_naming_why(tmp_path, hadoop_jar_step, message):
    with pytest.raises(emr.StepError, match=re.escape(message)):
        emr.command({"Name": "odd", "HadoopJarStep": hadoop_jar_step}, node(tmp_path))


def test_s3_files_are_fetched_and_node_paths_mapped(tmp_path, moto_s3):
    s3 = boto3.client("s3", endpoint_url=moto_s3)
    s3.create_bucket(Bucket="artifacts-steps")
    for key in ("jobs/a.whl", "jobs/app.py"):
        s3.put_object(Bucket="artifacts-steps", Key=key, Body=key.encode())
    local = node(tmp_path)
    local.s3, local.paths = s3, {"/usr/local/bin/marketpulse": "/opt/here/marketpulse"}
    step = {"Name": "s", "HadoopJarStep": {"Jar": "command-runner.jar", "Args": [
        "spark-submit", "--deploy-mode", "cluster", "--py-files", "s3://artifacts-steps/jobs/a.whl",
        "s3://artifacts-steps/jobs/app.py", "--binary", "/usr/local/bin/marketpulse"]}}  # fmt: skip
    cmd = emr.command(step, local)
    fetched = local.workdir / "fetched" / "artifacts-steps" / "jobs"
    assert cmd[1:5] == ["--master", "local[2]", "--deploy-mode", "client"]
    assert cmd[cmd.index("--py-files") + 1] == str(fetched / "a.whl") and (fetched / "a.whl").read_text() == "jobs/a.whl"
    assert cmd[-3:] == [str(fetched / "app.py"), "--binary", "/opt/here/marketpulse"]
    assert os.path.basename(cmd[0]) == "spark-submit"
