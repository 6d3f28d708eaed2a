"""The access ledger: on the applied dev stack, each component runs under
its own role (sts:AssumeRole) through a recording proxy in front of the
emulator; every call it made is then evaluated by an independent IAM
evaluator against the policies Terraform applied (identity, bucket, KMS key,
VPC endpoint), and must come out Allowed. Removing any statement a call
needs must deny a call, and a grant no call needs is listed in
infra/iam-unused.md with the AWS-side reason, or does not exist."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import boto3
import pytest
from marketpulse_deploy.emr.cluster import fleet_step, publish
from marketpulse_deploy.templates import render
from marketpulse_local import emr
from marketpulse_testkit import REPO
from marketpulse_testkit.aws import ACCOUNT, REGION
from marketpulse_testkit.iam import (
    Applied,
    evaluate,
    resources,
    role_of,
    simulation,
    statements,
)
from marketpulse_testkit.ledger import (
    RecordingProxy,
    chain_calls,
    glue_job_calls,
    passed_roles,
    redshift_calls,
    schedule_calls,
    spectrum_calls,
)
from marketpulse_testkit.producer import find_binary

LEDGER = REPO / "target" / "access" / "ledger.jsonl"
UNUSED = REPO / "infra" / "iam-unused.md"
# The components the ledger records, by their role in module.iam.
RECORDED_ROLES = {"producer", "emr_ec2", "glue", "redshift", "launcher", "chain", "scheduler"}
# The day the producer's runs land, which the bronze->silver step processes.
DAY = "2025-01-06"


@pytest.fixture(scope="module")
def producer_binary() -> Path:
    """The producer under test. `make test` builds it beside this suite and
    names, in MARKETPULSE_BUILD_STAMP, the file that build writes when done
    (`.failed` beside it if it failed); without one, cargo builds it here."""
    stamp = os.environ.get("MARKETPULSE_BUILD_STAMP")
    if stamp:
        deadline = time.monotonic() + 45 * 60
        while not Path(stamp).exists() and time.monotonic() < deadline:
            assert not Path(f"{stamp}.failed").exists(), "the test build beside this suite failed"
            time.sleep(2)
        assert Path(stamp).exists(), f"the test build wrote no {stamp} in 45 minutes"
        return find_binary()
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(
        ["cargo", "test", "--locked", "--workspace", "--no-run"], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return find_binary()


@pytest.fixture(scope="module")
def dev_state(platform, applied) -> dict:
    """dev's applied state; kept beside the ledger, to judge it again offline."""
    shown = platform.run("show", "-json", workspace="dev").stdout
    LEDGER.parent.mkdir(parents=True, exist_ok=True)
    (LEDGER.parent / "dev-state.json").write_text(shown)
    return json.loads(shown)


@pytest.fixture(scope="module")
def dev(dev_state) -> Applied:
    """dev's applied policies."""
    return Applied.from_state(dev_state)


# Where each writer's objects land: (layer, prefix).
WRITTEN = {
    "producer": ("raw", "lake/"),
    "emr_fleet": ("raw", "fleet/"),
    "bronze_to_silver": ("silver", "silver/"),
    "silver_to_gold": ("gold", "gold/"),
    "ecs_task": ("raw", "ecs/"),
}


@pytest.fixture(scope="module")
def recorded(applied, emulator, producer_binary, dev_state, tmp_path_factory, prod_teardown, chain_runs) -> dict:
    """The recorded runs: `entries`, every call, as written to
    target/access/ledger.jsonl; `encryption`, what S3 says of each writer's
    first object (WRITTEN): its server-side encryption and KMS key. prod's
    teardown (prod_teardown) runs meanwhile: it calls the emulator directly,
    never through the recording proxy."""
    out = applied["dev"]
    work = tmp_path_factory.mktemp("ledger")
    sts = boto3.client("sts", endpoint_url=emulator)
    kinesis = boto3.client("kinesis", endpoint_url=emulator)
    s3 = boto3.client("s3", endpoint_url=emulator)
    with RecordingProxy(emulator) as proxy:

        def role_env(role: str) -> dict[str, str]:
            assumed = sts.assume_role(RoleArn=out["role_arns"][role], RoleSessionName="ledger")
            creds = assumed["Credentials"]
            proxy.learn(creds["AccessKeyId"], assumed["AssumedRoleUser"]["Arn"])
            return {
                **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
                "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                "AWS_SESSION_TOKEN": creds["SessionToken"],
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": proxy.url,
            }

        def principal(env: dict[str, str]) -> str:
            return proxy.principals[env["AWS_ACCESS_KEY_ID"]]

        summary = kinesis.describe_stream_summary(StreamName=out["stream_name"])["StreamDescriptionSummary"]
        proxy.stream_keys[summary["StreamARN"]] = kms_key_arn(summary["KeyId"], out["kms_key_arn"])
        with proxy.running("producer"):
            record_producer(proxy, producer_binary, role_env("producer"), out)
        # What `marketpulse-emr publish` uploads: the binary, the bootstrap
        # actions, the fleet driver, the jobs wheel and the entry points.
        wheel = next((REPO / "jobs" / "dist").glob("marketpulse_jobs-*-py3-none-any.whl"))
        values = publish(s3, out["buckets"]["artifacts"], producer_binary, wheel, REPO / "jobs" / "entrypoints")
        node = role_env("emr_ec2")
        with proxy.running("emr_fleet"):
            record_emr_fleet(node, out, values, work)
        with proxy.running("bronze_to_silver"):
            record_bronze_to_silver(node, out, values, work)
        glue = role_env("glue")
        with proxy.running("silver_to_gold"):
            record_silver_to_gold(proxy, principal(glue), glue, dev_state, work)
        with proxy.running("redshift"):
            record_redshift(proxy, s3, sts, out)
        record_launchers(proxy, emulator, role_env("launcher"), role_env("producer"), out, dev_state, producer_binary)
        record_chain(proxy, chain_runs, out, dev_state)
        proxy.write(LEDGER)
    encryption = {}
    for writer, (layer, prefix) in WRITTEN.items():
        listed = s3.list_objects_v2(Bucket=out["buckets"][layer], Prefix=prefix, MaxKeys=1).get("Contents", [])
        head = s3.head_object(Bucket=out["buckets"][layer], Key=listed[0]["Key"]) if listed else {}
        encryption[writer] = (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId"))
    # Emptied one request at a time: the provider's force_destroy deletes
    # versions in parallel, which the emulator answers with 500s.
    for layer in ("raw", "silver", "gold", "artifacts"):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=out["buckets"][layer]):
            doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if doomed:
                s3.delete_objects(Bucket=out["buckets"][layer], Delete={"Objects": doomed, "Quiet": True})
    return {"entries": [json.loads(line) for line in LEDGER.read_text().splitlines()], "encryption": encryption}


@pytest.fixture(scope="module")
def ledger(recorded) -> list[dict]:
    return recorded["entries"]


def kms_key_arn(key_id: str, env_key: str) -> str:
    """A stream's KeyId (an ARN, alias or id) as the key's ARN."""
    return key_id if key_id.startswith("arn:aws:kms:") and ":key/" in key_id else env_key


def record_producer(proxy: RecordingProxy, binary: Path, env: dict, out: dict) -> None:
    """generate into raw, killed once it has written, then --resume and
    verify, as a fleet task does; then a run into the Kinesis stream."""
    lake = f"s3://{out['buckets']['raw']}/lake"
    generate = [binary, "generate", "--out", lake, "--scale", "0.05", "--days", "1", "--threads", "1", "-q",
                "--lock-lease-seconds", "1"]  # fmt: skip
    killed = subprocess.Popen(generate, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while killed.poll() is None and time.monotonic() < deadline:
        if any(e[1] == "s3:PutObject" and "/lake/sales/" in (e[2] or "") for e in proxy.calls()):
            killed.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    killed.wait(timeout=60)
    time.sleep(1.5)  # the killed run's lock lease runs out
    for args in (
        [*generate, "--resume"],
        [binary, "verify", lake],
        [binary, "generate", "--sink", f"kinesis://{out['stream_name']}", "--out", f"s3://{out['buckets']['raw']}/stream-runs",
         "--domains", "clicks", "--scale", "0.0002", "-q"],
    ):  # fmt: skip
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{args[1:3]}: {done.stderr[-2000:]}"


def record_emr_fleet(env: dict, out: dict, values: dict, work: Path) -> None:
    """A node of the transient fleet cluster (deploy/emr/cluster.json) under
    the instance profile's role: each bootstrap action fetched and run with
    its own arguments (with the long-running cluster's jobs wheel action,
    into a throwaway venv), then the fleet step (deploy/emr/steps/fleet.json)
    on the local Spark with the producer the bootstrap installed, two shards
    at ledger size."""
    values = {**values, "KMS_KEY_ARN": out["kms_key_arn"], "LAKE": f"s3://{out['buckets']['raw']}/fleet"}
    cluster = render((REPO / "deploy" / "emr" / "cluster.json").read_text(), {
        **values, "ENV": "dev", "LOGS_BUCKET": out["buckets"]["logs"], "SERVICE_ROLE": out["role_arns"]["emr"],
        "INSTANCE_PROFILE": "marketpulse-dev-emr-ec2", "SUBNET_ID": "subnet-ledger",
        "SECURITY_CONFIGURATION": out["emr_security_configuration"],
    })  # fmt: skip
    actions = [(a["ScriptBootstrapAction"]["Path"], a["ScriptBootstrapAction"]["Args"]) for a in cluster["BootstrapActions"]]
    artifacts = f"s3://{values['ARTIFACTS_BUCKET']}"
    wheel = f"{artifacts}/jobs/marketpulse_jobs-{values['JOBS_VERSION']}-py3-none-any.whl"
    actions.append((f"{artifacts}/emr/install-jobs.sh", [wheel, values["JOBS_SHA256"]]))
    venv = work / "node-python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    node_env = {**env, "MARKETPULSE_INSTALL_DIR": str(work / "bin"),
                "PATH": f"{venv / 'bin'}:{Path(sys.executable).parent}:{env.get('PATH', '')}"}  # fmt: skip
    aws = str(Path(sys.executable).parent / "aws")
    for n, (path, args) in enumerate(actions):
        script = work / f"action-{n}.sh"
        for cmd in ([aws, "s3", "cp", "--only-show-errors", path, str(script)], ["bash", str(script), *args]):
            done = subprocess.run(cmd, env=node_env, capture_output=True, text=True, check=False, timeout=300)
            assert done.returncode == 0, f"{cmd[:3]}: {done.stderr[-2000:]}"
    step = fleet_step(values, 2, ["--scale", "0.02", "--days", "1"])
    # The producer where the bootstrap action installed it.
    node = emr_node(env, work / "fleet-node", s3a=False, paths={"/usr/local/bin/marketpulse": str(work / "bin" / "marketpulse")})
    done = emr.run(step, node, timeout=600)
    assert done.returncode == 0, f"fleet: {done.stderr[-3000:]}"


def emr_node(env: dict, work: Path, s3a: bool = True, paths: dict[str, str] | None = None) -> emr.LocalNode:
    """A node that runs EMR steps (marketpulse_local.emr) under env's
    credentials: spark-submit's s3:// files fetched through the proxy, and
    with `s3a`, s3:// through s3a, as EMRFS on a node."""
    from marketpulse_testkit.spark import JAVA17, s3a_jars

    confs = local_spark(env, s3a)
    run_env = {**env, "JAVA_HOME": str(JAVA17), "PYSPARK_PYTHON": sys.executable}
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], aws_session_token=env["AWS_SESSION_TOKEN"])  # fmt: skip
    return emr.LocalNode(work, run_env, s3, confs=confs, jars=[str(j) for j in s3a_jars()] if s3a else [], paths=paths or {})


def local_spark(env: dict, s3a: bool) -> list[str]:
    """Spark settings for local[2] under env's credentials; with `s3a`,
    s3:// through s3a."""
    hadoop = {
        "fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.endpoint": env["AWS_ENDPOINT_URL"],
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "false",
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider",
        "fs.s3a.access.key": env["AWS_ACCESS_KEY_ID"],
        "fs.s3a.secret.key": env["AWS_SECRET_ACCESS_KEY"],
        "fs.s3a.session.token": env["AWS_SESSION_TOKEN"],
        "fs.s3a.change.detection.mode": "none",
    }
    confs = [f"spark.hadoop.{k}={v}" for k, v in hadoop.items()] if s3a else []
    # Two cores, two shuffle partitions: a tiny day, not a cluster's.
    confs += ["spark.sql.shuffle.partitions=2", "spark.driver.host=127.0.0.1", "spark.driver.bindAddress=127.0.0.1", "spark.ui.enabled=false", "spark.ui.showConsoleProgress=false"]
    return confs


def spark_env(env: dict, confs: list[str], s3a: bool = True) -> dict:
    """`env` with PYSPARK_SUBMIT_ARGS for Spark settings on local[2] under
    env's credentials (local_spark), for a job started in Python."""
    from marketpulse_testkit.spark import JAVA17, s3a_jars

    confs = [*confs, *local_spark(env, s3a)]
    submit = ["--master", "local[2]", *(["--jars", ",".join(str(j) for j in s3a_jars())] if s3a else [])]
    submit += [x for c in confs for x in ("--conf", c)]
    return {**env, "JAVA_HOME": str(JAVA17), "PYSPARK_SUBMIT_ARGS": " ".join([*submit, "pyspark-shell"])}


def record_bronze_to_silver(env: dict, out: dict, values: dict, work: Path) -> None:
    """The EMR step (deploy/emr/steps/bronze_to_silver.json) run from its
    definition, then the quality gate's step on the metrics it wrote."""
    rendered = {
        "INGEST_DATE": DAY, "RUN_ID": "ledger", "JOBS_VERSION": values["JOBS_VERSION"],
        "ARTIFACTS_BUCKET": out["buckets"]["artifacts"], "RAW_LAKE": f"s3://{out['buckets']['raw']}/lake/",
        "SILVER_BUCKET": out["buckets"]["silver"], "GLUE_DATABASE": out["glue_databases"]["silver"],
    }  # fmt: skip
    node = emr_node(env, work / "silver-node")
    for name, codes in (("bronze_to_silver", {0}), ("quality_gate", {0})):
        step = render((REPO / "deploy" / "emr" / "steps" / f"{name}.json").read_text(), rendered)
        done = emr.run(step, node, timeout=600)
        assert done.returncode in codes, f"{name}: {done.stderr[-3000:]}"


def record_silver_to_gold(proxy: RecordingProxy, principal: str, env: dict, state: dict, work: Path) -> None:
    """The applied Glue job: what Glue calls to start it (glue_job_calls),
    then its entry point with the job's own arguments on the local Glue
    stand-in. Glue keeps bookmarks in the service; the stand-in's stay local."""
    found = {r["type"]: r["values"] for r in resources(state["values"]["root_module"])
             if r["type"] in ("aws_glue_job", "aws_glue_security_configuration")}  # fmt: skip
    job, security = found["aws_glue_job"], found["aws_glue_security_configuration"]
    proxy.add(principal, glue_job_calls(job, security, role_of(principal).rsplit("/", 1)[1], "jr_ledger"))
    script = REPO / "jobs" / "entrypoints" / job["command"][0]["script_location"].rsplit("/", 1)[1]
    args = [x for k, v in job["default_arguments"].items() for x in (k, v)]
    run_env = {**spark_env(env, []), "MARKETPULSE_GLUE_BOOKMARKS": str(work / "glue-bookmarks")}
    done = subprocess.run(
        [sys.executable, "-m", "marketpulse_local.glue", "run", str(script), "--JOB_NAME", job["name"], *args],
        env=run_env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, f"silver_to_gold: {done.stderr[-3000:]}"


def record_redshift(proxy: RecordingProxy, s3, sts, out: dict) -> None:
    """The load and serve SQL production runs (jobs/redshift/sql), with the
    stack's values (output redshift_sql_params): Redshift's calls under the
    role each statement names, by rule (redshift_calls)."""
    from marketpulse_local.redshift import PLACEHOLDER

    params = out["redshift_sql_params"]
    # Redshift assumes the statement's role in a session of its own.
    assumed = sts.assume_role(RoleArn=params["iam_role"], RoleSessionName="RedshiftIamRoleSession")["AssumedRoleUser"]["Arn"]

    def objects(bucket: str, prefix: str):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                yield o["Key"], s3.head_object(Bucket=bucket, Key=o["Key"]).get("SSEKMSKeyId")

    sql = REPO / "jobs" / "redshift" / "sql"
    for part in ("load/copy_marts.sql", "serve/external_schema.sql", "serve/unload_marts.sql"):
        text = PLACEHOLDER.sub(lambda m: params[m.group(1)], (sql / part).read_text())
        for statement in text.split(";"):
            proxy.add(assumed, redshift_calls(statement, objects, DAY))
    # The BI queries over the external schema (Spectrum), whose tables the
    # Glue module places under gold_uri.
    for query in sorted((sql / "queries").glob("*.sql")):
        for table in sorted(set(re.findall(r"\bgold_ext\.(\w+)", query.read_text()))):
            location = f"{params['gold_uri']}/{table}/"
            proxy.add(assumed, spectrum_calls(params["glue_gold_database"], table, location, objects))


def record_launchers(proxy: RecordingProxy, emulator: str, launcher: dict, producer: dict, out: dict, state: dict, binary: Path) -> None:
    """The fleet launchers under the launcher role, on dev's cluster, task
    definition, queue and job definition: marketpulse-ecs-launch starts two
    shards and, once they stopped, judges them by the lake; each task's
    producer runs with the environment ECS would give it (the definition's
    and the launcher's overrides) under the task role. The emulator runs no
    container, so the tasks are stopped by hand. marketpulse-batch-submit
    submits an array job and reads its children once."""
    from marketpulse_deploy.batch import array_job
    from marketpulse_deploy.ecs.launcher import Fleet

    def client(service: str, env: dict):
        return boto3.client(service, endpoint_url=proxy.url, region_name=REGION, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], aws_session_token=env["AWS_SESSION_TOKEN"])  # fmt: skip

    found = list(resources(state["values"]["root_module"]))
    subnets = [r["values"]["id"] for r in found if r["type"] == "aws_subnet" and r["name"] == "private"]
    (group,) = [r["values"]["id"] for r in found if r["type"] == "aws_security_group" and r["name"] == "https_egress"]
    (definition,) = [r["values"] for r in found if r["type"] == "aws_ecs_task_definition"]
    (job_definition,) = [r["values"]["name"] for r in found if r["type"] == "aws_batch_job_definition"]
    (queue,) = [r["values"]["name"] for r in found if r["type"] == "aws_batch_job_queue"]
    lake = f"s3://{out['buckets']['raw']}/ecs"
    with proxy.running("ecs_launcher"):
        fleet = Fleet(client("ecs", launcher), client("s3", launcher), out["ecs_cluster"], definition["family"], lake, 2,
                      subnets, [group], {"MARKETPULSE_SCALE": "0.01", "MARKETPULSE_DAYS": "1"}, max_attempts=1)  # fmt: skip
        fleet.start()
        proxy.add(proxy.principals[launcher["AWS_ACCESS_KEY_ID"]], passed_roles(definition))
    ecs = boto3.client("ecs", endpoint_url=emulator)
    (container,) = json.loads(definition["container_definitions"])
    defaults = {e["name"]: e["value"] for e in container["environment"]}
    tasks = ecs.describe_tasks(cluster=out["ecs_cluster"], tasks=[s.task for s in fleet.state.values()])["tasks"]
    assert len(tasks) == 2, fleet.report()
    with proxy.running("ecs_task"):
        for task in tasks:
            (override,) = task["overrides"]["containerOverrides"]
            env = {**producer, **defaults, **{e["name"]: e["value"] for e in override["environment"]}}
            done = subprocess.run([binary, "generate"], env=env, capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"task {task['taskArn']}: {done.stderr[-2000:]}"
    for task in tasks:
        ecs.stop_task(cluster=out["ecs_cluster"], task=task["taskArn"], reason="the producer exited")
    with proxy.running("ecs_launcher"):
        assert fleet.poll() and not fleet.failed(), fleet.report()
    with proxy.running("batch_launcher"):
        batch = client("batch", launcher)
        job = array_job.submit(batch, queue, job_definition, 2, f"s3://{out['buckets']['raw']}/batch", {})
        array_job.children(batch, job, 2)


def record_chain(proxy: RecordingProxy, chain_runs: dict, out: dict, state: dict) -> None:
    """The daily chain's executions (conftest's chain_runs) under the state
    machine's role, derived from their histories (moto's interpreter signs
    with fixed keys); each applied schedule firing, under the scheduler's."""
    role = out["role_arns"]["chain"].rsplit("/", 1)[1]
    with proxy.running("chain"):
        for name in ("succeeds", "blocked", "retried"):
            principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{name}"
            proxy.add(principal, chain_calls(chain_runs[name][1], out["kms_key_arn"], "dev"))
    role = out["role_arns"]["scheduler"].rsplit("/", 1)[1]
    with proxy.running("scheduler"):
        for schedule in (r["values"] for r in resources(state["values"]["root_module"]) if r["type"] == "aws_scheduler_schedule"):
            proxy.add(f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{schedule['name']}", schedule_calls(schedule, out["kms_key_arn"]))


def verdicts(entries: list[dict], applied: Applied) -> list[str]:
    return evaluate([simulation(e, applied) for e in entries])


def test_every_call_is_recorded_under_a_role_and_known_to_the_ledger(ledger):
    unsigned = [e for e in ledger if e["principal"] is None]
    assert not unsigned, f"calls under no assumed role: {unsigned[:5]}"
    unknown = [e["resource"] for e in ledger if e["action"] is None]
    assert not unknown, f"calls the ledger cannot name an IAM action for (marketpulse_testkit.ledger): {unknown}"
    actions = Counter(e["action"] for e in ledger)
    # What a resumed shard on a KMS-encrypted lake and stream has to do.
    for needed in ("s3:ListBucketMultipartUploads", "s3:PutObject", "s3:GetObject", "kinesis:PutRecords",
                   "kms:GenerateDataKey", "kms:Decrypt"):  # fmt: skip
        assert actions[needed] > 0, f"the producer's runs made no {needed}: {dict(actions)}"


def test_every_recorded_call_is_allowed_by_the_applied_policies(ledger, dev):
    # A managed policy's document is not in the state: a recorded role must have none.
    assert not [u for u in dev.unreadable if any(f'["{short}"]' in u for short in RECORDED_ROLES)], dev.unreadable
    assert {short_owner("identity", role_of(e["principal"])) for e in ledger} == RECORDED_ROLES
    results = verdicts(ledger, dev)
    denied = [(e["component"], e["action"], e["resource"], r) for e, r in zip(ledger, results, strict=True) if r != "Allowed"]
    summary = Counter(results)
    (LEDGER.parent / "verdicts.json").write_text(json.dumps({"entries": len(ledger), "verdicts": summary}, indent=1))
    assert not denied, f"{len(denied)} of {len(ledger)} calls denied: {denied[:20]}"


def test_each_statement_a_call_needs_denies_a_call_when_removed(ledger, dev):
    """The mutation check, over every Allow statement of the recorded roles'
    policies and of the bucket, key and endpoint policies their calls meet:
    a statement is needed when removing it denies a call; one no call needs
    is listed in infra/iam-unused.md, or removed."""
    roles = {role_of(e["principal"]) for e in ledger}
    buckets = {e["resource"].split(":::")[1].split("/")[0] for e in ledger if e["action"].startswith("s3:")}
    keys = {e["resource"] for e in ledger if e["action"].startswith("kms:")}
    services = {e["action"].split(":")[0] for e in ledger}
    candidates = [
        (kind, owner, i) for kind, owner, i in dev.statements()
        if (kind == "identity" and owner.rsplit("#", 1)[0] in roles)
        or (kind == "bucket" and owner in buckets)
        or (kind == "key" and owner in keys)
        or (kind == "endpoint" and owner in services)
    ]  # fmt: skip
    # One evaluator run for every mutant, each over one call of every kind
    # the policies can tell apart (alike_for).
    alike = alike_for(dev)
    sample = list({alike(e): e for e in ledger}.values())
    results = evaluate([simulation(e, mutant) for c in candidates for mutant in [dev.without(*c)] for e in sample])
    needed, unneeded = 0, []
    for n, (kind, owner, i) in enumerate(candidates):
        if any(r != "Allowed" for r in results[n * len(sample) : (n + 1) * len(sample)]):
            needed += 1
        else:
            unneeded.append((kind, owner, statements(dev.policy(kind, owner))[i]))
    (LEDGER.parent / "mutations.json").write_text(json.dumps({"statements": len(candidates), "needed": needed}))
    listed = unused_listed()
    unexplained = [
        (kind, owner, s) for kind, owner, s in unneeded
        if (short_owner(kind, owner), s.get("Sid")) not in listed
        and not all((short_owner(kind, owner), a) in listed for a in as_list(s["Action"]))
    ]  # fmt: skip
    assert needed > 0
    assert not unexplained, f"statements no recorded call needs, not in infra/iam-unused.md: {unexplained}"


def test_every_granted_action_is_exercised_or_explained(ledger, dev):
    """Action by action, over every role's own policies (those of roles that
    AWS services assume included): a grant that no recorded call used is in
    infra/iam-unused.md, by itself or by its statement's Sid."""
    used = {(role_of(e["principal"]), e["action"]) for e in ledger}
    listed = unused_listed()
    unexplained = []
    for arn, policies in dev.identity.items():
        name = short_owner("identity", arn)
        for policy in policies:
            for s in statements(policy["policy"]):
                for action in as_list(s["Action"]):
                    explained = (name, action) in listed or (name, s.get("Sid")) in listed
                    if s["Effect"] == "Allow" and (arn, action) not in used and not explained:
                        unexplained.append(f"{name}: {action}")
    assert not unexplained, f"granted, never called, not in infra/iam-unused.md: {sorted(set(unexplained))}"


def test_every_writer_leaves_its_objects_under_the_environment_key(recorded, applied, ledger):
    """Read back: an object of each writer is SSE-KMS under dev's key,
    whether the writer named the key (the fleet step's --sse-kms-key) or
    left it to the bucket's default; UNLOAD, whose writes come by rule,
    names the key."""
    key = applied["dev"]["kms_key_arn"]
    assert recorded["encryption"] == {writer: ("aws:kms", key) for writer in WRITTEN}
    unloads = [e for e in ledger if e["component"] == "redshift" and e["action"] == "s3:PutObject"]
    assert unloads
    assert {(e["context"]["s3:x-amz-server-side-encryption"], e["context"]["s3:x-amz-server-side-encryption-aws-kms-key-id"]) for e in unloads} == {("aws:kms", key)}
    fleet = {e["context"].get("s3:x-amz-server-side-encryption-aws-kms-key-id") for e in ledger if e["component"] == "emr_fleet" and e["action"] == "s3:PutObject"}
    assert fleet == {key}, "the fleet step names the key on every write"


def test_the_lake_refuses_a_write_that_names_another_encryption(ledger, dev):
    """A write with an explicit AES256 header is denied by the bucket policy;
    the same write without the header is allowed (the default applies)."""
    writes = [e for e in ledger if e["action"] == "s3:PutObject"]
    assert writes
    aes = [{**e, "context": {**e["context"], "s3:x-amz-server-side-encryption": "AES256"}} for e in writes[:3]]
    assert set(verdicts(aes, dev)) == {"ExplicitlyDenied"}
    assert set(verdicts(writes[:3], dev)) == {"Allowed"}


# Buckets AWS owns that the private subnets must read through the S3 gateway
# endpoint, as AWS documents them (ECR: "Amazon ECR interface VPC endpoints";
# EMR: "Sample policies for private subnets that access Amazon S3"). Layers
# come through URLs ECR presigns, packages unsigned: anonymous, for the check.
AWS_OWNED_ACCOUNT = "999999999999"  # stands for the account AWS keeps them in
AWS_REPOSITORY_OBJECTS = [
    f"arn:aws:s3:::prod-{REGION}-starport-layer-bucket/sha256/0123abcd",  # image layers: Fargate, Batch
    f"arn:aws:s3:::repo.{REGION}.emr.amazonaws.com/emr-7.0.0/repodata/repomd.xml",  # EMR packages
    f"arn:aws:s3:::al2023-repos-{REGION}-de612dc2/core/mirrors/latest/x86_64/mirror.list",  # EMR 7 nodes, Batch's hosts
]
FOREIGN_OBJECT = "arn:aws:s3:::someone-elses-public-bucket/data.csv"


def through_s3_endpoint(applied: Applied, principal, action: str, resource: str, account: str,
                        identity: list[dict], endpoint: bool = True) -> dict:  # fmt: skip
    """A request whose bucket policy allows everyone everything, so that only the endpoint can refuse it."""
    bucket = resource.split(":::")[1].split("/")[0]
    context = {"aws:SecureTransport": "true", "aws:ResourceAccount": account}
    if isinstance(principal, str):
        context.update({"aws:PrincipalArn": role_of(principal), "aws:PrincipalAccount": principal.split(":")[4]})
    sim = {
        "request": {"principal": principal, "action": action, "resource": {"resource": resource, "accountId": account},
                    "contextVariables": context},
        "identityPolicies": identity,
        "resourcePolicy": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{bucket}/*",
        }]},
    }  # fmt: skip
    if endpoint:
        found = applied.endpoints["s3"]
        context.update({"aws:SourceVpce": found["id"], "aws:SourceVpc": found["vpc"]})
        sim["vpcEndpointPolicies"] = [{"name": found["id"], "policy": found["policy"]}]
    return sim


def test_the_s3_endpoint_admits_aws_repositories_and_refuses_foreign_buckets(applied, dev):
    anonymous = {"type": "Anonymous"}
    repositories = [
        through_s3_endpoint(dev, anonymous, "s3:GetObject", obj, AWS_OWNED_ACCOUNT, []) for obj in AWS_REPOSITORY_OBJECTS
    ]
    assert evaluate(repositories) == ["Allowed"] * len(repositories), AWS_REPOSITORY_OBJECTS
    # A role of this account that its own policy lets do anything, and anyone
    # at all, against a foreign bucket that lets everyone do anything.
    role = f"arn:aws:sts::{applied['dev']['role_arns']['producer'].split(':')[4]}:assumed-role/marketpulse-dev-producer/x"
    anything = [{"name": "anything", "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}]  # fmt: skip
    foreign = [
        (role, "s3:GetObject", anything), (role, "s3:PutObject", anything), (anonymous, "s3:GetObject", []),
    ]  # fmt: skip
    outside = evaluate([through_s3_endpoint(dev, p, a, FOREIGN_OBJECT, AWS_OWNED_ACCOUNT, i, endpoint=False) for p, a, i in foreign])
    assert outside == ["Allowed"] * len(foreign), "without the endpoint these must pass, or the check proves nothing"
    inside = evaluate([through_s3_endpoint(dev, p, a, FOREIGN_OBJECT, AWS_OWNED_ACCOUNT, i) for p, a, i in foreign])
    assert "Allowed" not in inside, inside
    # EMR's support logs: the nodes may write them to AWS's bucket, not read it.
    node = f"arn:aws:sts::{role.split(':')[4]}:assumed-role/marketpulse-dev-emr-ec2/i-0123456789abcdef0"
    logs = f"arn:aws:s3:::aws157-logs-prod-{REGION}/j-LEDGER/node/i-0123456789abcdef0/daemons/instance-state.gz"
    support = [through_s3_endpoint(dev, node, a, logs, AWS_OWNED_ACCOUNT, anything) for a in ("s3:PutObject", "s3:GetObject")]
    assert evaluate(support) == ["Allowed", "ImplicitlyDenied"]


# Helpers


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def alike_for(applied: Applied):
    """A key under which calls are alike to every applied policy: the same
    principal, action and component, the object's key cut to as many
    folders as any policy's S3 resource names, and only the context keys
    some condition reads."""
    depth, read = 0, set()
    for statement in (s for _, _, document in applied.policies() for s in statements(document)):
        for resource in as_list(statement.get("Resource", [])):
            if resource.startswith("arn:aws:s3:::") and "/" in resource:
                depth = max(depth, resource.split("*")[0].count("/"))
        read |= {key for test in statement.get("Condition", {}).values() for key in test}

    def alike(entry: dict) -> str:
        resource = entry["resource"]
        if entry["action"].startswith("s3:") and "/" in resource:
            resource = "/".join(resource.split("/")[:depth])
        context = {k: v for k, v in entry["context"].items() if k in read}
        return json.dumps([entry["principal"], entry["action"], entry["component"], resource, context], sort_keys=True)

    return alike


def short_owner(kind: str, owner: str) -> str:
    """A policy's owner as infra/iam-unused.md names it, the same in every env:
    a role by its component (producer), a bucket by its layer (raw-bucket), a
    KMS key as env-key, an endpoint by its service (s3-endpoint)."""
    if kind == "identity":
        return re.sub(r"^marketpulse-[a-z]+-", "", owner.rsplit("#", 1)[0].rsplit("/", 1)[1]).replace("-", "_")
    if kind == "bucket":
        return owner.rsplit("-", 1)[1] + "-bucket"
    return "env-key" if kind == "key" else f"{owner}-endpoint"


def unused_listed() -> set[tuple[str, str]]:
    """(owner, action or statement Sid) of every row of infra/iam-unused.md's table of grants."""
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", UNUSED.read_text(), re.MULTILINE)
    return set(rows)
