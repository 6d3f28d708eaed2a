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
from marketpulse_testkit import REPO
from marketpulse_testkit.aws import REGION
from marketpulse_testkit.iam import Applied, evaluate, role_of, simulation, statements
from marketpulse_testkit.ledger import RecordingProxy
from marketpulse_testkit.producer import find_binary

LEDGER = REPO / "target" / "access" / "ledger.jsonl"
UNUSED = REPO / "infra" / "iam-unused.md"
# The components the ledger records, by their role in module.iam.
RECORDED_ROLES = {"producer", "emr_ec2"}
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
def dev(platform, applied) -> Applied:
    """dev's applied policies; its state is kept beside the ledger, to judge it again offline."""
    shown = platform.run("show", "-json", workspace="dev").stdout
    LEDGER.parent.mkdir(parents=True, exist_ok=True)
    (LEDGER.parent / "dev-state.json").write_text(shown)
    return Applied.from_state(json.loads(shown))


@pytest.fixture(scope="module")
def ledger(applied, emulator, producer_binary) -> list[dict]:
    """Every call of the recorded components, as written to target/access/ledger.jsonl."""
    out = applied["dev"]
    sts = boto3.client("sts", endpoint_url=emulator)
    kinesis = boto3.client("kinesis", endpoint_url=emulator)
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

        summary = kinesis.describe_stream_summary(StreamName=out["stream_name"])["StreamDescriptionSummary"]
        proxy.stream_keys[summary["StreamARN"]] = kms_key_arn(summary["KeyId"], out["kms_key_arn"])
        with proxy.running("producer"):
            record_producer(proxy, producer_binary, role_env("producer"), out)
        with proxy.running("bronze_to_silver"):
            record_bronze_to_silver(role_env("emr_ec2"), out)
        proxy.write(LEDGER)
    # Emptied one request at a time: the provider's force_destroy deletes
    # versions in parallel, which the emulator answers with 500s.
    s3 = boto3.client("s3", endpoint_url=emulator)
    for layer in ("raw", "silver"):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=out["buckets"][layer]):
            doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if doomed:
                s3.delete_objects(Bucket=out["buckets"][layer], Delete={"Objects": doomed, "Quiet": True})
    return [json.loads(line) for line in LEDGER.read_text().splitlines()]


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


def record_bronze_to_silver(env: dict, out: dict) -> None:
    """The EMR step's own arguments (deploy/emr/steps/bronze_to_silver.json)
    on the local Spark: s3:// through s3a, as EMRFS on a node under the
    instance profile's role; the Glue catalog through boto3."""
    from marketpulse_deploy.templates import render
    from marketpulse_testkit.spark import JAVA17, s3a_jars

    step = render((REPO / "deploy" / "emr" / "steps" / "bronze_to_silver.json").read_text(), {
        "INGEST_DATE": DAY, "RUN_ID": "ledger", "JOBS_VERSION": "0.1.0",
        "ARTIFACTS_BUCKET": out["buckets"]["artifacts"], "RAW_BUCKET": out["buckets"]["raw"],
        "SILVER_BUCKET": out["buckets"]["silver"], "GLUE_DATABASE": out["glue_databases"]["silver"],
    })  # fmt: skip
    args = step["HadoopJarStep"]["Args"]
    script = next(i for i, a in enumerate(args) if a.endswith("/bronze_to_silver.py"))
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
    confs = [a for i, a in enumerate(args[:script]) if i > 0 and args[i - 1] == "--conf"]
    confs += [f"spark.hadoop.{k}={v}" for k, v in hadoop.items()]
    # Two cores, two shuffle partitions: a tiny day, not a cluster's.
    confs += ["spark.sql.shuffle.partitions=2", "spark.driver.host=127.0.0.1", "spark.driver.bindAddress=127.0.0.1", "spark.ui.enabled=false", "spark.ui.showConsoleProgress=false"]
    submit = ["--master", "local[2]", "--jars", ",".join(str(j) for j in s3a_jars())]
    submit += [x for c in confs for x in ("--conf", c)]
    run_env = {**env, "JAVA_HOME": str(JAVA17), "PYSPARK_SUBMIT_ARGS": " ".join([*submit, "pyspark-shell"])}
    done = subprocess.run(
        [sys.executable, "-m", "marketpulse_jobs.bronze_to_silver", *args[script + 1 :]],
        env=run_env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, f"bronze_to_silver: {done.stderr[-3000:]}"


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


def test_every_action_granted_to_a_recorded_role_is_exercised_or_explained(ledger, dev):
    """Action by action: a grant of the recorded roles that no call used is in infra/iam-unused.md."""
    used = {(role_of(e["principal"]), e["action"]) for e in ledger}
    listed = unused_listed()
    unexplained = []
    for arn, policies in dev.identity.items():
        name = short_owner("identity", arn)
        if name not in RECORDED_ROLES:
            continue
        for policy in policies:
            for s in statements(policy["policy"]):
                for action in as_list(s["Action"]):
                    if s["Effect"] == "Allow" and (arn, action) not in used and (name, action) not in listed:
                        unexplained.append(f"{name}: {action}")
    assert not unexplained, f"granted, never called, not in infra/iam-unused.md: {sorted(set(unexplained))}"


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
    f"arn:aws:s3:::al2023-repos-{REGION}-de612dc2/core/mirrors/latest/x86_64/mirror.list",  # EMR 7 nodes
    f"arn:aws:s3:::amazonlinux-2-repos-{REGION}/2/core/latest/x86_64/mirror.list",  # Batch's ECS hosts
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
