"""The platform's Terraform, for real: fmt and validate everywhere, the
bootstrap applied, the root stack on its S3 backend with DynamoDB locking
and three workspaces, dev and prod planned, applied, checked through boto3,
planned again (no changes but the emulator's known drift) and destroyed;
every policy without "*" on "*"; the catalog's columns equal schemas/;
checkov reads every file and finds nothing."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from marketpulse_testkit import REPO
from marketpulse_testkit.iam import resources
from marketpulse_testkit.terraform import (
    DESTROY,
    Terraform,
    need_terraform,
    var_file,
)

INFRA = REPO / "infra"
MODULES = sorted(p.name for p in (INFRA / "modules").iterdir() if p.is_dir())
# Resources a plan right after apply still wants to change, because the
# emulator does not keep what the provider sent (infra/README.md lists them).
EMULATOR_DRIFT = {
    "module.redshift.aws_redshift_cluster.this": "moto reports a multi-node cluster as single-node",
    "module.producer_fleet.aws_launch_template.batch": "moto returns the template's own tags as tag specifications of its data",
}


# Resource types checkov 3.3 has no check for: a file declaring only these
# shows no result however well it was read.
NO_CHECKOV_CHECK = {"aws_budgets_budget"}


def test_the_catalog_file_is_generated_from_schemas():
    """infra/modules/glue/tables.json is what `python -m marketpulse_jobs.catalog` writes now."""
    done = subprocess.run(
        [sys.executable, "-m", "marketpulse_jobs.catalog"], capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(REPO / "jobs"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert json.loads(done.stdout) == json.loads((INFRA / "modules" / "glue" / "tables.json").read_text()), (
        "tables.json is stale: python -m marketpulse_jobs.catalog > infra/modules/glue/tables.json"
    )


def test_fmt_is_clean(tf_env):
    need_terraform()
    done = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(INFRA)], env=tf_env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("stack", [".", "bootstrap", *(f"modules/{m}" for m in MODULES)])
def test_each_stack_and_module_validates(workdir, tf_env, stack):
    tf = Terraform(workdir / stack, tf_env)
    tf.run("init", "-backend=false", "-input=false", "-no-color")
    tf.run("validate", "-no-color")


def test_the_bootstrap_state_bucket_is_locked_down(bootstrap, emulator):
    s3 = boto3.client("s3", endpoint_url=emulator)
    bucket = bootstrap["state_bucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == bootstrap["state_kms_key_arn"]
    assert denies_insecure_transport(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    table = boto3.client("dynamodb", endpoint_url=emulator).describe_table(TableName=bootstrap["lock_table"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]


def test_workspaces_exist_on_the_s3_backend(platform):
    listed = platform.run("workspace", "list", "-no-color").stdout
    assert {w.strip(" *") for w in listed.split()} >= {"default", "dev", "stg", "prod"}


def test_a_second_plan_is_refused_while_the_state_is_locked(platform):
    """An apply waiting for its approval holds the workspace's lock; a plan
    started meanwhile fails on it instead of reading a state about to change."""
    platform.run("workspace", "select", "stg", "-no-color")
    holder = platform.interactive("apply", "-no-color", *var_file("stg"))
    try:
        seen = read_until(holder, b"Enter a value", seconds=240)
        assert b"Enter a value" in seen, seen[-3000:].decode(errors="replace")
        second = platform.run("plan", "-no-color", "-lock-timeout=1s", *var_file("stg"), check=False)
        assert second.returncode != 0
        assert "Error acquiring the state lock" in second.stderr, second.stderr[-2000:]
    finally:
        holder.communicate(b"no\n", timeout=120)
    assert holder.returncode != 0  # answered "no": nothing applied


def test_a_plan_after_apply_changes_nothing_but_known_emulator_drift(platform, applied):
    for env in ("dev", "prod"):
        platform.run("plan", "-no-color", f"-out={env}.tfplan", *var_file(env), workspace=env)
        plan = json.loads(platform.run("show", "-json", f"{env}.tfplan", workspace=env).stdout)
        changed = {c["address"] for c in plan.get("resource_changes", []) if c["change"]["actions"] != ["no-op"]}
        changed = {re.sub(r"\[.*?\]$", "", a) for a in changed}
        assert changed <= set(EMULATOR_DRIFT), f"{env}: unexpected changes {sorted(changed - set(EMULATOR_DRIFT))}"


def test_buckets_are_versioned_kms_encrypted_private_and_tls_only(applied, emulator):
    s3 = boto3.client("s3", endpoint_url=emulator)
    for env, out in applied.items():
        assert set(out["buckets"]) == {"raw", "silver", "gold", "logs", "artifacts"}
        for layer, bucket in out["buckets"].items():
            assert re.fullmatch(rf"marketpulse-\d{{12}}-{env}-{layer}", bucket)
            assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
            sse = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
            sse = sse["ApplyServerSideEncryptionByDefault"]
            if layer == "logs":  # S3 delivers access logs only to SSE-S3 buckets
                assert sse["SSEAlgorithm"] == "AES256"
            else:
                assert (sse["SSEAlgorithm"], sse["KMSMasterKeyID"]) == ("aws:kms", out["kms_key_arn"])
            block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
            assert all(block.values()) and len(block) == 4
            policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
            assert denies_insecure_transport(policy), bucket
            if layer in ("raw", "silver", "gold"):
                account = bucket.split("-")[1]
                exempt = write_exemptions(policy)
                assert f"arn:aws:iam::{account}:role/marketpulse-{env}-break-glass" in exempt, exempt
                assert not [arn for arn in exempt if "*" in arn or "?" in arn], f"{bucket}: a pattern is exempt: {exempt}"


def test_glue_tables_have_the_columns_of_schemas(applied, emulator):
    from marketpulse_jobs.catalog import terraform_tables

    glue = boto3.client("glue", endpoint_url=emulator)
    expected = terraform_tables()
    for layer, database in applied["dev"]["glue_databases"].items():
        tables = {t["Name"]: t for t in glue.get_tables(DatabaseName=database)["TableList"]}
        assert set(tables) == set(expected[layer])
        for name, want in expected[layer].items():
            sd = tables[name]["StorageDescriptor"]
            assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [(c["Name"], c["Type"]) for c in want["columns"]], name
            assert [k["Name"] for k in tables[name]["PartitionKeys"]] == want["partition_keys"], name


def test_the_glue_job_runs_with_the_jobs_spark_settings(applied, emulator):
    """Glue builds the job's session itself: the settings every other run of
    the jobs sets (marketpulse_jobs/spark_conf.json) reach it as the `--conf`
    job parameter, parsed as the Glue stand-in parses it."""
    from marketpulse_jobs.utils import SESSION_CONF
    from marketpulse_local.glue import job_conf

    glue = boto3.client("glue", endpoint_url=emulator)
    (name,) = [j for j in glue.list_jobs()["JobNames"] if j.startswith("marketpulse-dev-")]
    arguments = glue.get_job(JobName=name)["Job"]["DefaultArguments"]
    assert job_conf(["--conf", arguments["--conf"]]) == SESSION_CONF


def test_the_emr_cluster_has_spot_task_nodes_and_its_bootstrap_actions(applied, emulator):
    emr = boto3.client("emr", endpoint_url=emulator)
    for out in applied.values():
        cluster = out["emr_cluster_id"]
        groups = emr.list_instance_groups(ClusterId=cluster)["InstanceGroups"]
        markets = {g["InstanceGroupType"]: g["Market"] for g in groups}
        assert markets == {"MASTER": "ON_DEMAND", "CORE": "ON_DEMAND", "TASK": "SPOT"}
        actions = {a["Name"]: a for a in emr.list_bootstrap_actions(ClusterId=cluster)["BootstrapActions"]}
        assert set(actions) == {"install marketpulse", "install marketpulse_jobs"}
        assert actions["install marketpulse"]["ScriptPath"].endswith("/emr/bootstrap.sh")
        assert re.fullmatch(r"[0-9a-f]{64}", actions["install marketpulse"]["Args"][1])


def test_every_node_answers_instance_metadata_only_with_a_token(applied, emulator):
    """IMDSv2, one hop: EMR's nodes by the security configuration every
    cluster runs with, Batch's hosts by their launch template."""
    emr = boto3.client("emr", endpoint_url=emulator)
    ec2 = boto3.client("ec2", endpoint_url=emulator)
    batch = boto3.client("batch", endpoint_url=emulator)
    for env, out in applied.items():
        name = emr.describe_cluster(ClusterId=out["emr_cluster_id"])["Cluster"]["SecurityConfiguration"]
        assert name == out["emr_security_configuration"]
        imds = json.loads(emr.describe_security_configuration(Name=name)["SecurityConfiguration"])["InstanceMetadataServiceConfiguration"]
        assert imds == {"MinimumInstanceMetadataServiceVersion": 2, "HttpPutResponseHopLimit": 1}
        (environment,) = [e for e in batch.describe_compute_environments()["computeEnvironments"] if f"-{env}-" in e["computeEnvironmentName"]]
        template = environment["computeResources"]["launchTemplate"]
        named = {"LaunchTemplateName": template["launchTemplateName"]} if "launchTemplateName" in template else {"LaunchTemplateId": template["launchTemplateId"]}
        versions = ec2.describe_launch_template_versions(**named, Versions=[template["version"]])
        options = versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]["MetadataOptions"]
        assert (options["HttpTokens"], options["HttpPutResponseHopLimit"]) == ("required", 1), options


@pytest.fixture(scope="module")
def prod_policies(platform, applied) -> list[tuple[str, dict]]:
    """(address, document) of every JSON policy in prod's applied state."""
    state = json.loads(platform.run("show", "-json", workspace="prod").stdout)
    documents = list(policy_documents(state["values"]["root_module"]))
    assert len(documents) >= 20, len(documents)
    return documents


def test_no_policy_allows_every_action_on_every_resource(prod_policies):
    for address, document in prod_policies:
        for statement in as_list(document.get("Statement", [])):
            if statement.get("Effect") != "Allow":
                continue
            actions, resources = as_list(statement.get("Action", [])), as_list(statement.get("Resource", []))
            assert not ("*" in actions and "*" in resources), f"{address}: {statement}"
            assert "*" not in actions, f"{address} allows every action: {statement}"


# The one policy attribute parliament is not run on.
NOT_LINTED = {
    ".aws_sns_topic.": "the topic's policy as first read; aws_sns_topic_policy sets the one that applies, and is linted",
}


def test_parliament_finds_nothing_that_is_not_explained(prod_policies):
    """parliament (the library its CLI runs) on every policy prod applied:
    each finding at LOW or above is fixed, or listed in infra/iam-unused.md
    with the AWS document that shows it is right; a listed finding that no
    longer occurs is removed from the list."""
    from parliament import analyze_policy_string, enhance_finding
    from parliament.cli import is_finding_filtered

    listed = set(re.findall(r"^\| `([^`]+)` \| `([A-Z_]+)` \|", (INFRA / "iam-unused.md").read_text(), re.MULTILINE))
    found, unexplained = set(), []
    for address, document in prod_policies:
        if any(part in address for part in NOT_LINTED):
            continue
        for finding in analyze_policy_string(json.dumps(document)).findings:
            finding = enhance_finding(finding)
            if is_finding_filtered(finding):
                continue
            key = (re.sub(r"\[[^\]]*\]", "", address), finding.issue)
            found.add(key)
            if key not in listed:
                unexplained.append(f"{address}: {finding.issue} {str(finding.detail)[:300]}")
    assert not unexplained, "\n".join(unexplained)
    assert listed <= found, f"listed in infra/iam-unused.md but no longer found: {sorted(listed - found)}"


def test_prod_is_destroyed_whole(platform, applied, emulator, prod_teardown):
    """prod's buckets keep their objects on destroy (access logs keep
    arriving while it runs), so, as docs/runbooks/teardown.md says, an apply
    with force_destroy comes first (conftest's prod_teardown, beside the
    access ledger)."""
    for done in prod_teardown.result(timeout=1800):
        assert done.returncode == 0, f"terraform {' '.join(done.args[1:2])} (prod):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert_destroyed(platform, applied, emulator, "prod")


def test_dev_is_destroyed_whole(platform, applied, emulator):
    """Runs last (conftest orders it after the access ledger)."""
    platform.run(*DESTROY, *var_file("dev"), workspace="dev", timeout=900)
    assert_destroyed(platform, applied, emulator, "dev")


def assert_destroyed(platform, applied, emulator, env: str) -> None:
    s3 = boto3.client("s3", endpoint_url=emulator)
    emr = boto3.client("emr", endpoint_url=emulator)
    assert platform.run("state", "list", check=False, workspace=env).stdout.strip() == ""
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if f"-{env}-" in b["Name"]] == []
    state = emr.describe_cluster(ClusterId=applied[env]["emr_cluster_id"])["Cluster"]["Status"]["State"]
    assert state.startswith("TERMINAT"), state


@pytest.mark.infra  # static analysis of the Terraform, with its own venv (make test-infra)
def test_checkov_reads_every_file_finds_nothing_and_every_skip_names_its_control():
    checkov = os.environ.get("CHECKOV", str(REPO / ".venv-checkov" / "bin" / "checkov"))
    if not Path(checkov).exists():
        pytest.skip(f"checkov is not installed at {checkov} (make test installs it into .venv-checkov)")
    done = subprocess.run(
        [checkov, "-d", str(INFRA), "--framework", "terraform", "--skip-download", "-o", "json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    # A file checkov cannot parse is a file it did not check, whatever it counts.
    errors = report["summary"]["parsing_errors"]
    assert errors == 0, f"checkov could not parse {errors} file(s): checkov -d infra --framework terraform names them"
    assert report["summary"]["failed"] == 0, json.dumps(report["results"]["failed_checks"], indent=1)[:5000]
    checked = {r["file_path"].lstrip("/") for kind in ("passed_checks", "skipped_checks") for r in report["results"][kind]}
    declaring = {
        str(tf.relative_to(INFRA))
        for tf in INFRA.rglob("*.tf")
        if set(re.findall(r'^resource "(aws_\w+)"', tf.read_text(), re.MULTILINE)) - NO_CHECKOV_CHECK
    }
    assert declaring <= checked, f"checkov checked nothing in {sorted(declaring - checked)}"
    skips = 0
    for tf in INFRA.rglob("*.tf"):
        for n, line in enumerate(tf.read_text().splitlines(), 1):
            if "checkov:skip=" in line:
                skips += 1
                check, _, reason = line.split("checkov:skip=", 1)[1].partition(":")
                why, _, control = reason.partition(" Control: ")
                assert re.fullmatch(r"CKV2?_AWS_\d+", check), f"{tf}:{n}: {line.strip()}"
                assert len(why.strip()) >= 20 and len(control.strip()) >= 20, (
                    f"{tf}:{n}: a skip says why, then ' Control: ' and the control that stands in: {line.strip()}"
                )
    assert report["summary"]["skipped"] == skips > 0


# Helpers


def read_until(proc: subprocess.Popen, marker: bytes, seconds: float) -> bytes:
    """What `proc` printed until `marker` (a prompt has no newline), it exited, or time ran out."""
    seen, deadline = b"", time.monotonic() + seconds
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
    return seen


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def denies_insecure_transport(policy: str) -> bool:
    for s in json.loads(policy)["Statement"]:
        cond = s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
        if s["Effect"] == "Deny" and as_list(cond) == ["false"] and "s3:*" in as_list(s["Action"]):
            return True
    return False


def write_exemptions(policy: str) -> list[str]:
    """The principal ARNs a bucket policy's writers-only Deny exempts."""
    (deny,) = [s for s in json.loads(policy)["Statement"] if s.get("Sid") == "DenyWritesByOtherRoles"]
    assert deny["Effect"] == "Deny" and "s3:PutObject" in as_list(deny["Action"]), deny
    return as_list(deny["Condition"]["StringNotLike"]["aws:PrincipalArn"])


POLICY_ATTRIBUTES = ("policy", "assume_role_policy", "json")


def policy_documents(module: dict):
    """(address, document) for every JSON policy in a state's module tree."""
    for resource in resources(module):
        for attribute in POLICY_ATTRIBUTES:
            text = resource.get("values", {}).get(attribute)
            if isinstance(text, str) and text.lstrip().startswith("{") and '"Statement"' in text:
                yield resource["address"], json.loads(text)
