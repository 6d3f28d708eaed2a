"""Every patch in emulator.py works around a gap of the pinned moto. Each gap
below is a small scenario run against moto as installed (in-process
`mock_aws`, never patched: emulator.py is imported only in a subprocess).
`test_still_needed[<patch>]` passes while the gap is there and fails, saying
the patch can go, once moto closes it. The same scenarios run once more in a
subprocess with emulator.py's patches applied, where each gap must be
closed; that subprocess also lists what importing emulator.py changed in
moto, so a patch without a scenario here fails too. No Terraform needed."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from marketpulse_testkit import REPO
from marketpulse_testkit.aws import ACCOUNT, REGION, aws_environ
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count
from moto.iam.access_control import IAMPolicy, PermissionResult

pytestmark = pytest.mark.usefixtures("fake_aws")

HERE = Path(__file__).resolve().parent
EMULATOR = HERE / "emulator.py"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f0e0d0c-0000-4000-8000-000000000001"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/marketpulse-redshift"
OBJECT_ARN = "arn:aws:s3:::marketpulse-raw/day=2024-01-01/part-0.parquet"


@dataclass(frozen=True)
class Gap:
    patch: str  # the patched name, spelt as in emulator.py
    gap: str  # what moto does that AWS does not
    present: Callable[[], bool]


GAPS: dict[str, Gap] = {}


def gap(patch: str, what: str):
    def register(check: Callable[[], bool]) -> Callable[[], bool]:
        GAPS[patch] = Gap(patch, what, check)
        return check

    return register


def not_implemented(call: Callable[[], object]) -> bool:
    """moto raises this in-process where its server answers 500."""
    try:
        call()
    except NotImplementedError:
        return True
    return False


# EMR


def emr_cluster(emr, **settings) -> str:
    instances = {"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True}
    return emr.run_job_flow(
        Name="gap", ReleaseLabel="emr-7.0.0", JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole",
        Instances=instances, **settings,
    )["JobFlowId"]  # fmt: skip


@gap("ElasticMapReduceResponse.run_job_flow", "RunJobFlow drops LogEncryptionKmsKeyId and ScaleDownBehavior")
def emr_run_job_flow_drops_settings() -> bool:
    with mock_aws():
        emr = boto3.client("emr", region_name=REGION)
        cluster_id = emr_cluster(emr, LogEncryptionKmsKeyId=KEY_ARN, ScaleDownBehavior="TERMINATE_AT_TASK_COMPLETION")
        cluster = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    kept = (cluster.get("LogEncryptionKmsKeyId"), cluster.get("ScaleDownBehavior"))
    return kept != (KEY_ARN, "TERMINATE_AT_TASK_COMPLETION")


@gap("ElasticMapReduceResponse.add_instance_groups", "AddInstanceGroups returns no InstanceGroupIds")
def emr_add_instance_groups_without_ids() -> bool:
    group = {"InstanceRole": "TASK", "InstanceType": "m5.xlarge", "InstanceCount": 1, "Market": "SPOT"}
    with mock_aws():
        emr = boto3.client("emr", region_name=REGION)
        added = emr.add_instance_groups(JobFlowId=emr_cluster(emr), InstanceGroups=[group])
    return len(added.get("InstanceGroupIds", [])) != 1


def emr_call_missing(call: str, params: dict) -> bool:
    with mock_aws():
        emr = boto3.client("emr", region_name=REGION)
        cluster_id = emr_cluster(emr)
        return not_implemented(lambda: getattr(emr, call)(ClusterId=cluster_id, **params))


SCALING = {"ComputeLimits": {"UnitType": "Instances", "MinimumCapacityUnits": 1, "MaximumCapacityUnits": 4}}
EMR_CALLS = {
    "list_instance_fleets": ("ListInstanceFleets", {}),
    "get_auto_termination_policy": ("GetAutoTerminationPolicy", {}),
    "put_auto_termination_policy": ("PutAutoTerminationPolicy", {"AutoTerminationPolicy": {"IdleTimeout": 3600}}),
    "remove_auto_termination_policy": ("RemoveAutoTerminationPolicy", {}),
    "get_managed_scaling_policy": ("GetManagedScalingPolicy", {}),
    "put_managed_scaling_policy": ("PutManagedScalingPolicy", {"ManagedScalingPolicy": SCALING}),
    "remove_managed_scaling_policy": ("RemoveManagedScalingPolicy", {}),
}
for call, (operation, params) in EMR_CALLS.items():
    gap(f"ElasticMapReduceResponse.{call}", f"{operation} is not implemented")(partial(emr_call_missing, call, params))


# Budgets

NOTIFICATION = {
    "NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0, "ThresholdType": "PERCENTAGE",
}  # fmt: skip
BUDGET_ARN = f"arn:aws:budgets::{ACCOUNT}:budget/marketpulse-dev"


@contextmanager
def budget():
    """A budget with one notification, one subscriber and one tag; yields the client."""
    with mock_aws():
        client = boto3.client("budgets", region_name=REGION)
        client.create_budget(
            AccountId=ACCOUNT,
            Budget={
                "BudgetName": "marketpulse-dev", "BudgetLimit": {"Amount": "100", "Unit": "USD"},
                "TimeUnit": "MONTHLY", "BudgetType": "COST",
            },
            NotificationsWithSubscribers=[
                {"Notification": NOTIFICATION, "Subscribers": [{"SubscriptionType": "EMAIL", "Address": "ops@example.com"}]}
            ],
            ResourceTags=[{"Key": "env", "Value": "dev"}],
        )  # fmt: skip
        yield client


@gap("BudgetsResponse.create_budget", "CreateBudget's ResourceTags cannot be read back")
def budgets_create_drops_tags() -> bool:
    with budget() as client:
        try:
            tags = client.list_tags_for_resource(ResourceARN=BUDGET_ARN)["ResourceTags"]
        except NotImplementedError:
            return True
    return tags != [{"Key": "env", "Value": "dev"}]


@gap("BudgetsResponse.describe_subscribers_for_notification", "DescribeSubscribersForNotification is not implemented")
def budgets_subscribers_missing() -> bool:
    with budget() as client:
        return not_implemented(
            lambda: client.describe_subscribers_for_notification(
                AccountId=ACCOUNT, BudgetName="marketpulse-dev", Notification=NOTIFICATION
            )
        )


BUDGET_TAG_CALLS = {
    "list_tags_for_resource": ("ListTagsForResource", {}),
    "tag_resource": ("TagResource", {"ResourceTags": [{"Key": "team", "Value": "data"}]}),
    "untag_resource": ("UntagResource", {"ResourceTagKeys": ["env"]}),
}


def budgets_call_missing(call: str, params: dict) -> bool:
    with budget() as client:
        return not_implemented(lambda: getattr(client, call)(ResourceARN=BUDGET_ARN, **params))


for call, (operation, params) in BUDGET_TAG_CALLS.items():
    gap(f"BudgetsResponse.{call}", f"{operation} is not implemented")(partial(budgets_call_missing, call, params))


# Redshift


def redshift_cluster(**settings) -> dict:
    """A cluster as the redshift module creates it, as DescribeClusters then reports it."""
    with mock_aws():
        client = boto3.client("redshift", region_name=REGION)
        client.create_cluster(
            ClusterIdentifier="marketpulse-dev", NodeType="ra3.xlplus", ClusterType="multi-node", NumberOfNodes=2,
            MasterUsername="admin", **settings,
        )  # fmt: skip
        return client.describe_clusters(ClusterIdentifier="marketpulse-dev")["Clusters"][0]


REDSHIFT_FIELDS = {
    "cluster_availability_status": "ClusterAvailabilityStatus",
    "availability_zone_relocation_status": "AvailabilityZoneRelocationStatus",
    "multi_az": "MultiAZ",
    "maintenance_track_name": "MaintenanceTrackName",
    "manual_snapshot_retention_period": "ManualSnapshotRetentionPeriod",
}


def redshift_field_missing(field: str) -> bool:
    return field not in redshift_cluster(MasterUserPassword="Passw0rd-for-moto")


for attribute, field in REDSHIFT_FIELDS.items():
    gap(f"RedshiftCluster.{attribute}", f"DescribeClusters has no {field}")(partial(redshift_field_missing, field))


@gap("RedshiftResponse.create_cluster", "CreateCluster drops DefaultIamRoleArn and MasterPasswordSecretKmsKeyId")
def redshift_create_drops_settings() -> bool:
    cluster = redshift_cluster(
        IamRoles=[ROLE_ARN], DefaultIamRoleArn=ROLE_ARN, ManageMasterPassword=True, MasterPasswordSecretKmsKeyId=KEY_ARN
    )
    return (cluster.get("DefaultIamRoleArn"), cluster.get("MasterPasswordSecretKmsKeyId")) != (ROLE_ARN, KEY_ARN)


# S3 server access logging


def enable_logging(target_policy: list[dict]) -> Exception | None:
    """PutBucketLogging from a lake bucket into a logs bucket with this policy; the error, if any."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("marketpulse-raw", "marketpulse-logs"):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_policy(Bucket="marketpulse-logs", Policy=json.dumps({"Version": "2012-10-17", "Statement": target_policy}))
        target = {"TargetBucket": "marketpulse-logs", "TargetPrefix": "s3/raw/"}
        try:
            s3.put_bucket_logging(Bucket="marketpulse-raw", BucketLoggingStatus={"LoggingEnabled": target})
        except Exception as e:  # noqa: BLE001 - moto fails with a ClientError, or with a 500 (in-process: its exception)
            return e
    return None


def log_delivery(resource: str) -> dict:
    return {
        "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
        "Resource": resource,
    }  # fmt: skip


TLS_ONLY = {
    "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": ["arn:aws:s3:::marketpulse-logs", "arn:aws:s3:::marketpulse-logs/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}  # fmt: skip


@gap(
    "FakeBucket._log_permissions_enabled_policy",
    "PutBucketLogging fails (500) when the target policy has a Principal \"*\" statement, "
    "or matches the log delivery statement's Resource literally instead of as a pattern",
)
def s3_logging_policy_check() -> bool:
    star_principal = enable_logging([TLS_ONLY, log_delivery("arn:aws:s3:::marketpulse-logs/s3/raw/*")])
    resource_pattern = enable_logging([log_delivery("arn:aws:s3:::marketpulse-logs/s3/*")])
    return star_principal is not None or resource_pattern is not None


# Kinesis


@gap("KinesisResponse.create_stream", "CreateStream drops its Tags")
def kinesis_create_drops_tags() -> bool:
    with mock_aws():
        client = boto3.client("kinesis", region_name=REGION)
        client.create_stream(StreamName="marketpulse-dev", ShardCount=1, Tags={"env": "dev"})
        tags = client.list_tags_for_stream(StreamName="marketpulse-dev")["Tags"]
    return tags != [{"Key": "env", "Value": "dev"}]


# EC2: Terraform deletes EMR's security groups in parallel, each revoking by
# rule id every rule that touches it, so one revokes a rule another just did.


def revoke_twice(direction: str) -> bool:
    """The second revoke of a rule id answers InvalidPermission.NotFound, which
    the provider does not skip (it skips InvalidSecurityGroupRuleId.NotFound)."""
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        master, worker = (ec2.create_security_group(GroupName=n, Description=n, VpcId=vpc)["GroupId"] for n in ("m", "w"))
        permission = {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "UserIdGroupPairs": [{"GroupId": master}]}
        getattr(ec2, f"authorize_security_group_{direction}")(GroupId=worker, IpPermissions=[permission])
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [worker]}])["SecurityGroupRules"]
        egress = direction == "egress"
        (rule,) = [r for r in rules if r["IsEgress"] == egress and r.get("ReferencedGroupInfo", {}).get("GroupId") == master]
        revoke = getattr(ec2, f"revoke_security_group_{direction}")
        revoke(GroupId=worker, SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]])
        try:
            revoke(GroupId=worker, SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]])
        except ClientError as e:
            return e.response["Error"]["Code"] == "InvalidPermission.NotFound"
    return False


for direction in ("ingress", "egress"):
    gap(
        f"SecurityGroups.revoke_security_group_{direction}",
        f"revoking an already revoked {direction} rule id answers InvalidPermission.NotFound",
    )(partial(revoke_twice, direction))


# IAM conditions in bucket policies: a TLS-only Deny and a writer-only Deny.


def evaluate(statement: dict, context: dict[str, str]) -> PermissionResult:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return IAMPolicy(policy).is_action_permitted("s3:PutObject", OBJECT_ARN, incoming_condition_values=context)


def allow_put_if(condition: dict) -> dict:
    return {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": OBJECT_ARN, "Condition": condition}


@gap("CONDITION_OPERATIONS['Bool']", "a Bool condition is ignored (the statement applies whatever the value)")
def iam_bool_ignored() -> bool:
    statement = allow_put_if({"Bool": {"aws:SecureTransport": "false"}})
    return evaluate(statement, {"aws:SecureTransport": "true"}) == PermissionResult.PERMITTED


@gap("CONDITION_OPERATIONS['StringNotLike']", "a StringNotLike condition is ignored")
def iam_string_not_like_ignored() -> bool:
    writer = f"arn:aws:iam::{ACCOUNT}:role/marketpulse-producer"
    statement = allow_put_if({"StringNotLike": {"aws:PrincipalArn": [writer]}})
    return evaluate(statement, {"aws:PrincipalArn": writer}) == PermissionResult.PERMITTED


@gap(
    "IAMPolicyStatement.is_action_permitted",
    "a Deny whose condition does not hold still denies, and a Null condition on a missing key is skipped",
)
def iam_deny_despite_condition() -> bool:
    statement = {
        "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": OBJECT_ARN,
        "Condition": {"StringEquals": {"aws:SecureTransport": "false"}},
    }  # fmt: skip
    # The lake's DenyEncryptionOtherThanKms: only a request naming an encryption.
    named = {**statement, "Condition": {"Null": {"s3:x-amz-server-side-encryption": "false"}}}
    return PermissionResult.DENIED in (
        evaluate(statement, {"aws:SecureTransport": "true"}), evaluate(named, {"aws:SecureTransport": "true"})
    )


@gap("FakeBucket.get_permission", "object requests are checked against the bucket policy with no request context")
def s3_bucket_policy_without_context() -> bool:
    contexts: list[dict | None] = []
    evaluate_policy = IAMPolicy.is_action_permitted

    def spy(self, action, resource="*", principal=None, incoming_condition_values=None):
        contexts.append(incoming_condition_values)
        return evaluate_policy(self, action, resource, principal, incoming_condition_values)

    allow = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::marketpulse-raw/*"}
    IAMPolicy.is_action_permitted = spy
    try:
        with mock_aws():
            s3 = boto3.client("s3", region_name=REGION)
            s3.create_bucket(Bucket="marketpulse-raw")
            s3.put_bucket_policy(Bucket="marketpulse-raw", Policy=json.dumps({"Version": "2012-10-17", "Statement": [allow]}))
            s3.put_object(Bucket="marketpulse-raw", Key="k", Body=b"x")
    finally:
        IAMPolicy.is_action_permitted = evaluate_policy
    assert contexts, "moto no longer checks bucket policies through IAMPolicy.is_action_permitted: re-check this patch"
    return not any((c or {}).get("aws:SecureTransport") for c in contexts)


# Redshift parameter groups


@gap("RedshiftResponse.modify_cluster_parameter_group", "ModifyClusterParameterGroup is not implemented")
def redshift_modify_parameter_group_missing() -> bool:
    with mock_aws():
        redshift = boto3.client("redshift", region_name=REGION)
        redshift.create_cluster_parameter_group(ParameterGroupName="gap", ParameterGroupFamily="redshift-1.0", Description="gap")
        return not_implemented(lambda: redshift.modify_cluster_parameter_group(
            ParameterGroupName="gap", Parameters=[{"ParameterName": "require_ssl", "ParameterValue": "true"}]))  # fmt: skip


@gap("RedshiftResponse.describe_cluster_parameters", "DescribeClusterParameters answers engine defaults when asked for Source user")
def redshift_user_parameters_are_defaults() -> bool:
    with mock_aws():
        redshift = boto3.client("redshift", region_name=REGION)
        redshift.create_cluster_parameter_group(ParameterGroupName="gap", ParameterGroupFamily="redshift-1.0", Description="gap")
        listed = redshift.describe_cluster_parameters(ParameterGroupName="gap", Source="user")["Parameters"]
    return any(p.get("Source") != "user" for p in listed)


# Step Functions: the definitions the daily chain runs (execute_state_machine).


def run_task(resource: str, parameters: dict, setup: Callable[[], None] = lambda: None) -> dict:
    """One Task state run by moto's interpreter in-process; the execution's
    end: status, error, cause and output (None where describing it fails)."""
    import time

    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}}}
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        setup()
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = sfn.create_state_machine(name="gap", definition=json.dumps(definition), roleArn=ROLE_ARN)["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                found = sfn.describe_execution(executionArn=execution)
            except (ClientError, TypeError) as e:  # a result it cannot serialise (a 500 from a server)
                return {"status": "UNDESCRIBABLE", "error": str(e)}
            if found["status"] != "RUNNING":
                return {k: found.get(k) for k in ("status", "error", "cause", "output")}
            time.sleep(0.1)
    return {"status": "RUNNING"}


@gap("StepFunctionResponse.validate_state_machine_definition", "ValidateStateMachineDefinition is not implemented")
def sfn_validate_missing() -> bool:
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name=REGION)
        return not_implemented(lambda: sfn.validate_state_machine_definition(definition='{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}'))


@gap("StepFunctionResponse.list_state_machine_versions", "ListStateMachineVersions is not implemented")
def sfn_versions_missing() -> bool:
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name=REGION)
        return not_implemented(lambda: sfn.list_state_machine_versions(stateMachineArn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:gap"))


def batch_queue() -> None:
    batch = boto3.client("batch", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="gap-batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    env = batch.create_compute_environment(computeEnvironmentName="gap", type="UNMANAGED", serviceRole=role)
    batch.create_job_queue(jobQueueName="gap", state="ENABLED", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}])
    batch.register_job_definition(jobDefinitionName="gap", type="container",
                                  containerProperties={"image": "busybox", "vcpus": 1, "memory": 128, "command": ["true"]})  # fmt: skip


BATCH_JOB = {"JobName": "gap", "JobQueue": "gap", "JobDefinition": "gap", "ArrayProperties": {"Size": 2}}


@gap("StateTaskService._normalise_parameters", "optimised integrations pass Step Functions' parameter names to boto unchanged")
def sfn_parameters_not_normalised() -> bool:
    ended = run_task("arn:aws:states:::batch:submitJob", BATCH_JOB, batch_queue)
    return ended["status"] != "SUCCEEDED" and "JobName" in (ended.get("cause") or "")


@gap("StateTaskService._normalise_response", "optimised integrations return boto's member names, not Step Functions'")
def sfn_response_not_normalised() -> bool:
    ended = run_task("arn:aws:states:::batch:submitJob", BATCH_JOB, batch_queue)
    return ended["status"] != "SUCCEEDED" or "JobId" not in json.loads(ended.get("output") or "{}")


@gap("default_user_config['batch']", "Batch runs jobs in docker: without it an array job never ends")
def batch_needs_docker() -> bool:
    ended = run_task("arn:aws:states:::batch:submitJob.sync", BATCH_JOB, batch_queue)
    return ended["status"] != "SUCCEEDED"


def emr_cluster_setup() -> None:
    emr_cluster(boto3.client("emr", region_name=REGION))


@gap("StateTaskService._after_eval_execution", "a task result with datetimes makes DescribeExecution fail (no epoch milliseconds)")
def sfn_datetimes_unserialisable() -> bool:
    ended = run_task("arn:aws:states:::aws-sdk:emr:listClusters", {}, emr_cluster_setup)
    return ended["status"] == "UNDESCRIBABLE"


@gap("RedshiftDataAPIServiceResponse.batch_execute_statement", "the Data API's BatchExecuteStatement is not implemented")
def redshift_data_batch_missing() -> bool:
    with mock_aws():
        data = boto3.client("redshift-data", region_name=REGION)
        return not_implemented(lambda: data.batch_execute_statement(ClusterIdentifier="gap", Database="d", DbUser="u", Sqls=["SELECT 1"]))


SDK_ERRORS = {"redshiftdata": "RedshiftData", "emr": "Emr", "cloudwatch": "CloudWatch", "glue": "Glue"}


def sdk_error_prefix(service: str, prefix: str) -> bool:
    """An aws-sdk task's error is named <prefix>.<code>, as on AWS (the
    Redshift Data API also needs its service name mapped)."""
    calls = {
        "redshiftdata": ("describeStatement", {"Id": "00000000-0000-0000-0000-000000000000"}),
        "emr": ("describeCluster", {"ClusterId": "j-NOPE"}),
        "cloudwatch": ("getDashboard", {"DashboardName": "nope"}),
        "glue": ("getJobRun", {"JobName": "nope", "RunId": "jr_nope"}),
    }
    action, parameters = calls[service]
    ended = run_task(f"arn:aws:states:::aws-sdk:{service}:{action}", parameters)
    return not (ended.get("error") or "").startswith(f"{prefix}.")


for service, prefix in SDK_ERRORS.items():
    gap(f"_SERVICE_ERROR_NAMES[{service!r}]", f"aws-sdk:{service} errors are not named {prefix}.<code>")(partial(sdk_error_prefix, service, prefix))


# What a test of the daily chain decides, not a gap of moto's: how a Batch
# job ends (infra/tests/test_chain.py sets it through the emulator's hooks).
HOOKS = {"BatchSimpleBackend._mark_job_as_finished": "a test has jobs of a name end FAILED"}


# The tests


def moto_version() -> str:
    return importlib.metadata.version("moto")


@pytest.mark.parametrize("patch", sorted(GAPS))
def test_still_needed(patch: str):
    patched = [m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == str(EMULATOR)]
    assert not patched, "emulator.py is imported in the test process: moto here must stay as installed"
    found = GAPS[patch]
    assert found.present(), (
        f"moto {moto_version()} fixed this: {found.gap}. The emulator's {patch} patch can go "
        "(infra/tests/emulator.py, its line in infra/README.md, and its scenario here)."
    )


# Run in a subprocess (cwd infra/tests): snapshot the moto names emulator.py
# imports, import it, list what it changed, then run every scenario.
PATCHED_RUN = """
import ast, importlib, json
names = {}
for node in ast.parse(open("emulator.py").read()).body:
    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("moto"):
        module = importlib.import_module(node.module)
        names.update({a.asname or a.name: getattr(module, a.name) for a in node.names})
def contents(obj):
    return dict(vars(obj)) if isinstance(obj, type) else dict(obj) if isinstance(obj, dict) else {}
before = {name: contents(obj) for name, obj in names.items()}
import emulator
patched = []
for name, obj in names.items():
    for key, value in contents(obj).items():
        if key not in before[name] or before[name][key] is not value:
            patched.append(f"{name}.{key}" if isinstance(obj, type) else f"{name}[{key!r}]")
import test_emulator_patches as t
print(json.dumps({"patched": sorted(patched), "open": [p for p, g in t.GAPS.items() if g.present()]}))
"""


@pytest.fixture(scope="module")
def patched_moto() -> dict:
    """What emulator.py patches, and which gaps stay open with its patches."""
    run = subprocess.run(
        [sys.executable, "-c", PATCHED_RUN], cwd=HERE, env=aws_environ(),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, f"the scenarios failed under emulator.py's patches:\n{run.stderr[-4000:]}"
    return json.loads(run.stdout.splitlines()[-1])


@pytest.mark.slow
def test_every_patch_has_a_scenario(patched_moto):
    patched = set(patched_moto["patched"]) - set(HOOKS)
    assert patched == set(GAPS), (
        f"patched without a scenario here: {sorted(patched - set(GAPS))}; "
        f"a scenario for what emulator.py no longer patches: {sorted(set(GAPS) - patched)}"
    )
    assert set(HOOKS) <= set(patched_moto["patched"]), "a hook emulator.py no longer installs is still listed"


@pytest.mark.slow
@pytest.mark.parametrize("patch", sorted(GAPS))
def test_emulator_closes_gap(patch: str, patched_moto):
    assert patch not in patched_moto["open"], f"with emulator.py's patches moto still: {GAPS[patch].gap}"


# The pin


def test_moto_is_the_pinned_version():
    """infra/README.md names the version the patches are checked on; the lock pins it; the venv has it."""
    stated = re.search(r"checked on moto \*\*([0-9.]+)\*\*", (REPO / "infra" / "README.md").read_text())
    assert stated, "infra/README.md no longer says which moto the emulator's patches are checked on"
    lock = REPO / "jobs" / "requirements.lock"
    pins = re.findall(r"^moto(?:\[[^\]]*\])?==([^\s;\\]+)", lock.read_text(), flags=re.MULTILINE)
    assert pins == [stated[1]], f"{lock.relative_to(REPO)} pins moto {pins}; infra/README.md says {stated[1]}"
    assert moto_version() == stated[1], f"moto {moto_version()} is installed, the lock pins {stated[1]}: run make test"


@set_initial_no_auth_action_count(4)
def s3_list_allowed_by(action: str) -> bool:
    """ListObjectsV2 by a user whose one policy allows `action` (and CreateBucket), under moto's IAM checks."""
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        iam.create_user(UserName="reader")
        statement = {"Effect": "Allow", "Action": [action, "s3:CreateBucket"], "Resource": "*"}
        policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=policy)
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        s3 = boto3.client(
            "s3", region_name=REGION, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
        )
        s3.create_bucket(Bucket="marketpulse-raw")
        try:
            s3.list_objects_v2(Bucket="marketpulse-raw")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "AccessDenied", e
            return False
    return True


def test_pinned_moto_checks_s3_calls_under_operation_names():
    """What sets 5.2.6 apart from 5.2.5 (infra/README.md): under IAM checks an S3 call needs
    its operation's name (s3:ListObjectsV2), where AWS and moto 5.2.5 want s3:ListBucket."""
    assert (s3_list_allowed_by("s3:ListObjectsV2"), s3_list_allowed_by("s3:ListBucket")) == (True, False)
