"""moto's server with the few answers the AWS provider needs that the
pinned moto (infra/README.md) lacks, patched into moto's classes before the
server starts. Each patch has a scenario in test_emulator_patches.py, which
fails, saying the patch can go, once moto closes its gap.
Run: python emulator.py -H 127.0.0.1 -p PORT."""

from __future__ import annotations

import datetime
import fnmatch
import functools
import json
import os
import sys
import threading

from moto.batch_simple.models import BatchSimpleBackend
from moto.budgets.responses import BudgetsResponse
from moto.core.config import default_user_config
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.exceptions import InvalidPermissionNotFoundError
from moto.ec2.responses.security_groups import SecurityGroups
from moto.emr.responses import ElasticMapReduceResponse
from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult
from moto.iam.policy_conditions import CONDITION_OPERATIONS
from moto.kinesis.responses import KinesisResponse
from moto.moto_api._internal.urls import url_paths as moto_api_paths
from moto.redshift.models import Cluster as RedshiftCluster
from moto.redshift.responses import RedshiftResponse
from moto.redshiftdata.responses import RedshiftDataAPIServiceResponse
from moto.s3.models import FakeBucket
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    _SERVICE_ERROR_NAMES,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue import (
    _SUPPORTED_INTEGRATION_PATTERNS as _GLUE_PATTERNS,
)
from moto.stepfunctions.responses import StepFunctionResponse

# EMR: AddInstanceGroups must return the new groups' ids; the provider also
# lists instance fleets and reads the policies it can attach.
_POLICIES: dict[tuple[str, str], dict] = {}


def _add_instance_groups(self) -> ActionResult:
    cluster = self._get_param("JobFlowId")
    groups = self.backend.add_instance_groups(cluster, self._get_param("InstanceGroups", []))
    return ActionResult({"JobFlowId": cluster, "InstanceGroupIds": [g.id for g in groups]})


def _list_instance_fleets(self) -> ActionResult:
    return ActionResult({"InstanceFleets": []})


def _policy(kind: str, field: str):
    def get(self) -> ActionResult:
        found = _POLICIES.get((kind, self._get_param("ClusterId")))
        return ActionResult({field: found} if found else {})

    def put(self) -> EmptyResult:
        _POLICIES[(kind, self._get_param("ClusterId"))] = self._get_param(field)
        return EmptyResult()

    def remove(self) -> EmptyResult:
        _POLICIES.pop((kind, self._get_param("ClusterId")), None)
        return EmptyResult()

    return get, put, remove


_run_job_flow = ElasticMapReduceResponse.run_job_flow


def _run_job_flow_keeping_settings(self) -> ActionResult:
    """moto drops these two; the provider replaces a cluster that lacks them."""
    result = _run_job_flow(self)
    cluster = self.backend.clusters[result.result["JobFlowId"]]
    cluster.log_encryption_kms_key_id = self._get_param("LogEncryptionKmsKeyId")
    cluster.scale_down_behavior = self._get_param("ScaleDownBehavior")
    return result


ElasticMapReduceResponse.run_job_flow = _run_job_flow_keeping_settings
ElasticMapReduceResponse.add_instance_groups = _add_instance_groups
ElasticMapReduceResponse.list_instance_fleets = _list_instance_fleets
(
    ElasticMapReduceResponse.get_auto_termination_policy,
    ElasticMapReduceResponse.put_auto_termination_policy,
    ElasticMapReduceResponse.remove_auto_termination_policy,
) = _policy("auto_termination", "AutoTerminationPolicy")
(
    ElasticMapReduceResponse.get_managed_scaling_policy,
    ElasticMapReduceResponse.put_managed_scaling_policy,
    ElasticMapReduceResponse.remove_managed_scaling_policy,
) = _policy("managed_scaling", "ManagedScalingPolicy")


# Budgets: the provider reads a budget's subscribers and tags.
_TAGS: dict[str, list[dict]] = {}


def _describe_subscribers_for_notification(self) -> str:
    budget = self.backend.budgets[self._get_param("AccountId")][self._get_param("BudgetName")]
    wanted = self._get_param("Notification")
    found = next((n.subscribers for n in budget.notifications if n.details == wanted), [])
    return json.dumps({"Subscribers": found})


def _list_tags_for_resource(self) -> str:
    return json.dumps({"ResourceTags": _TAGS.get(self._get_param("ResourceARN"), [])})


def _tag_resource(self) -> str:
    tags = {t["Key"]: t for t in _TAGS.get(self._get_param("ResourceARN"), [])}
    tags |= {t["Key"]: t for t in self._get_param("ResourceTags", [])}
    _TAGS[self._get_param("ResourceARN")] = list(tags.values())
    return "{}"


def _untag_resource(self) -> str:
    gone = set(self._get_param("ResourceTagKeys", []))
    arn = self._get_param("ResourceARN")
    _TAGS[arn] = [t for t in _TAGS.get(arn, []) if t["Key"] not in gone]
    return "{}"


_create_budget = BudgetsResponse.create_budget


def _create_budget_keeping_tags(self) -> str:
    out = _create_budget(self)
    name = self._get_param("Budget")["BudgetName"]
    arn = f"arn:aws:budgets::{self._get_param('AccountId')}:budget/{name}"
    _TAGS[arn] = self._get_param("ResourceTags", [])
    return out


BudgetsResponse.create_budget = _create_budget_keeping_tags
BudgetsResponse.describe_subscribers_for_notification = _describe_subscribers_for_notification
BudgetsResponse.list_tags_for_resource = _list_tags_for_resource
BudgetsResponse.tag_resource = _tag_resource
BudgetsResponse.untag_resource = _untag_resource


# Redshift: the provider waits for ClusterAvailabilityStatus "Available" and
# reads the AZ relocation and Multi-AZ states, which moto's clusters lack.
RedshiftCluster.cluster_availability_status = "Available"
RedshiftCluster.availability_zone_relocation_status = "disabled"
RedshiftCluster.multi_az = "Disabled"
RedshiftCluster.maintenance_track_name = "current"
RedshiftCluster.manual_snapshot_retention_period = -1
_create_cluster = RedshiftResponse.create_cluster


def _create_cluster_keeping_settings(self) -> ActionResult:
    """moto drops these; the provider would change them back on every plan."""
    out = _create_cluster(self)
    cluster = self.redshift_backend.clusters[self._get_param("ClusterIdentifier")]
    cluster.default_iam_role_arn = self._get_param("DefaultIamRoleArn")
    cluster.master_password_secret_kms_key_id = self._get_param("MasterPasswordSecretKmsKeyId")
    return out


RedshiftResponse.create_cluster = _create_cluster_keeping_settings


# S3: PutBucketLogging checks the target bucket's policy, but fails with a
# 500 on any statement whose Principal is "*" (a TLS-only Deny) and wants
# the log prefix spelt exactly; AWS matches the Resource as a pattern.
def _log_permissions_enabled_policy(target_bucket, target_prefix) -> bool:
    if not target_bucket.policy:
        return False
    target = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}/{target_prefix or ''}"
    for stmt in json.loads(target_bucket.policy.decode())["Statement"]:
        principal = stmt.get("Principal")
        if not isinstance(principal, dict) or principal.get("Service") != "logging.s3.amazonaws.com":
            continue
        actions = stmt.get("Action", [])
        resources = stmt.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        allowed = stmt.get("Effect") == "Allow" and "s3:PutObject" in actions
        if allowed and any(fnmatch.fnmatchcase(f"{target}log-object", r) for r in resources):
            return True
    return False


FakeBucket._log_permissions_enabled_policy = staticmethod(_log_permissions_enabled_policy)


# Kinesis: CreateStream's tags are dropped.
_create_stream = KinesisResponse.create_stream


def _create_stream_keeping_tags(self) -> ActionResult:
    out = _create_stream(self)
    if self._get_param("Tags"):
        self.kinesis_backend.add_tags_to_stream(None, self._get_param("StreamName"), self._get_param("Tags"))
    return out


KinesisResponse.create_stream = _create_stream_keeping_tags


# EC2: Terraform deletes EMR's security groups in parallel, each first
# revoking, by rule id, every rule that touches it, so a rule between two
# of them is revoked twice. moto answers the second revoke with
# InvalidPermission.NotFound, which the provider does not skip (AWS answers
# InvalidSecurityGroupRuleId.NotFound, which it does): take it as done.
def _revoke_tolerating_siblings(original):
    def revoke(self) -> ActionResult:
        try:
            return original(self)
        except InvalidPermissionNotFoundError:
            return ActionResult({"Return": True})

    return revoke


SecurityGroups.revoke_security_group_ingress = _revoke_tolerating_siblings(SecurityGroups.revoke_security_group_ingress)
SecurityGroups.revoke_security_group_egress = _revoke_tolerating_siblings(SecurityGroups.revoke_security_group_egress)


# S3: moto checks a bucket's policy on object requests with no request
# context and skips condition operators it does not know, so a TLS-only
# Deny refuses everything. The emulator stands for an HTTPS endpoint called
# by the account's root: requests carry aws:SecureTransport = true and that
# principal, and Bool and StringNotLike conditions are evaluated.
def _as_list(value) -> list[str]:
    return value if isinstance(value, list) else [value]


CONDITION_OPERATIONS["Bool"] = lambda expected, actual: actual.lower() in [v.lower() for v in _as_list(expected)]
CONDITION_OPERATIONS["StringNotLike"] = lambda expected, actual: not any(
    fnmatch.fnmatchcase(actual, p) for p in _as_list(expected)
)


_statement_permits = IAMPolicyStatement.is_action_permitted


def _null_holds(statement: dict, context: dict) -> bool:
    """moto checks only the keys a request has: Null's "false" then always holds."""
    for key, expected in statement.get("Condition", {}).get("Null", {}).items():
        if (key not in context) != (str(_as_list(expected)[0]).lower() == "true"):
            return False
    return True


def _statement_permits_unless_condition_fails(self, action, resource="*", principal=None, incoming_condition_values=None):
    """A Deny whose condition does not hold does not apply (moto denies)."""
    context = incoming_condition_values or {}
    holds = self._check_conditions(incoming_condition_values) and _null_holds(self._statement, context)
    if self._statement.get("Effect") == "Deny" and not holds:
        return PermissionResult.NEUTRAL
    return _statement_permits(self, action, resource, principal, incoming_condition_values)


IAMPolicyStatement.is_action_permitted = _statement_permits_unless_condition_fails


def _get_permission(self, action: str, resource: str):
    if self.policy is None:
        return PermissionResult.NEUTRAL
    context = {"aws:SecureTransport": "true", "aws:PrincipalArn": f"arn:aws:iam::{self.account_id}:root"}
    return IAMPolicy(self.policy.decode()).is_action_permitted(action, resource, incoming_condition_values=context)


FakeBucket.get_permission = _get_permission


# Redshift: the provider sets a parameter group's parameters with
# ModifyClusterParameterGroup, which moto lacks, and reads them back with
# DescribeClusterParameters (Source "user"), where moto answers its defaults.
_PARAMETERS: dict[str, dict[str, str]] = {}


def _modify_cluster_parameter_group(self) -> ActionResult:
    name = self._get_param("ParameterGroupName")
    self.redshift_backend.describe_cluster_parameters(name)  # refuses an unknown group
    for parameter in self._get_param("Parameters", []):
        _PARAMETERS.setdefault(name, {})[parameter["ParameterName"]] = parameter["ParameterValue"]
    return ActionResult({"ParameterGroupName": name, "ParameterGroupStatus": "Your parameter group has been updated."})


def _describe_cluster_parameters(self) -> ActionResult:
    name = self._get_param("ParameterGroupName")
    found = {p["ParameterName"]: p for p in self.redshift_backend.describe_cluster_parameters(name)}
    for key, value in _PARAMETERS.get(name, {}).items():
        found[key] = {**found.get(key, {"DataType": "string", "ApplyType": "static", "IsModifiable": True}),
                      "ParameterName": key, "ParameterValue": value, "Source": "user"}  # fmt: skip
    source = self._get_param("Source")
    return ActionResult({"Parameters": [p for p in found.values() if source in (None, p.get("Source"))]})


RedshiftResponse.modify_cluster_parameter_group = _modify_cluster_parameter_group
RedshiftResponse.describe_cluster_parameters = _describe_cluster_parameters


# Step Functions (execute_state_machine on: moto runs definitions with its
# copy of LocalStack's interpreter). Terraform's provider validates a
# definition and lists its versions, which moto lacks.
StepFunctionResponse.validate_state_machine_definition = lambda self: json.dumps({"result": "OK", "diagnostics": []})
StepFunctionResponse.list_state_machine_versions = lambda self: json.dumps({"stateMachineVersions": []})


@functools.cache
def _operation(service: str, action: str):
    import botocore.session
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    model = botocore.session.get_session().get_service_model(service)
    names = {camel_to_snake_case(n): n for n in model.operation_names}
    return model.operation_model(names[camel_to_snake_case(action)])


# The interpreter's optimised integrations (batch, glue…) call boto with
# Step Functions' PascalCase names: moto stubs out the translation to and
# from botocore's shapes, which LocalStack does as below.
def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
    shape = _operation(self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)).input_shape
    if shape is not None:
        self._to_boto_request(parameters, shape)


def _normalise_response(self, response, boto_service_name=None, service_action_name=None):
    shape = _operation(self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)).output_shape
    if shape is not None:
        self._from_boto_response(response, shape)


def _epoch_ms(value):
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _epoch_ms(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch_ms(v) for v in value]
    return value


_after_eval_execution = StateTaskService._after_eval_execution


def _after_eval_with_epoch_times(self, env, *args, **kwargs):
    """A task's result holds botocore datetimes, which DescribeExecution cannot
    serialise (a 500): Step Functions gives epoch milliseconds."""
    env.stack[-1] = _epoch_ms(env.stack[-1])
    return _after_eval_execution(self, env, *args, **kwargs)


StateTaskService._normalise_parameters = _normalise_parameters
StateTaskService._normalise_response = _normalise_response
StateTaskService._after_eval_execution = _after_eval_with_epoch_times
# aws-sdk tasks name services as the SDKs do; botocore says redshift-data.
# Their errors are prefixed as AWS prefixes them (RedshiftData.…, Emr.…).
StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES["redshiftdata"] = "redshift-data"
_SERVICE_ERROR_NAMES.update(redshiftdata="RedshiftData", emr="Emr", cloudwatch="CloudWatch", glue="Glue")
# glue:startJobRun.sync needs a callback endpoint, which moto makes only for
# the patterns it lists.
_GLUE_PATTERNS.add(ResourceCondition.WaitForTaskToken)


# Redshift Data API: moto lacks BatchExecuteStatement. One statement, with a
# sub-statement per SQL; like every moto statement it stays STARTED until a
# test ends it (hooks below).
def _batch_execute_statement(self):
    sqls = self._get_param("Sqls")
    statement = self.redshiftdata_backend.execute_statement(
        cluster_identifier=self._get_param("ClusterIdentifier"), database=self._get_param("Database"),
        db_user=self._get_param("DbUser"), parameters=None, secret_arn=self._get_param("SecretArn"), sql="; ".join(sqls),
    )  # fmt: skip
    statement.sub_statements = [{"Id": f"{statement.id}:{i}", "QueryString": q, "Status": "SUBMITTED"} for i, q in enumerate(sqls, 1)]
    keys = ("ClusterIdentifier", "CreatedAt", "Database", "DbUser", "Id", "SecretArn")
    return 200, {}, json.dumps({k: v for k, v in dict(statement).items() if k in keys})


RedshiftDataAPIServiceResponse.batch_execute_statement = _batch_execute_statement


# Batch: moto runs jobs in docker, which is not here (jobs fail, an array
# job's parent never ends). Its simple backend ends every job SUCCEEDED at
# once; a test may have jobs of a name end FAILED (hooks below).
default_user_config["batch"] = {"use_docker": False}
_FAILING_JOBS: set[str] = set()
_mark_job_as_finished = BatchSimpleBackend._mark_job_as_finished


def _finish_job_as_told(self, include_start_attempt, job):
    _mark_job_as_finished(self, include_start_attempt, job)
    if job.job_name in _FAILING_JOBS:
        job.status, job.job_stopped_reason = "FAILED", "failed by the test"


BatchSimpleBackend._mark_job_as_finished = _finish_job_as_told


# Test hooks of the daily chain's executions, POST /moto-api/chain/<hook>
# with a JSON body (infra/tests/test_chain.py): moto never ends an EMR step
# or a Data API statement by itself, and a test decides a Batch job's end
# and injects a transient fault into one of the interpreter's calls.
#   emr-step            {"StepId": "s-…", "State": "COMPLETED" | "FAILED"}
#   redshift-statement  {"Id": "…", "Status": "FINISHED" | "FAILED"}
#   batch-outcome       {"JobName": "…", "Status": "FAILED" | "SUCCEEDED"}
#   faults              [{"Service": "glue", "Operation": "StartJobRun", "Code": "…", "Count": 1}]
_FAULTS: list[dict] = []
_FAULTS_LOCK = threading.Lock()


def _inject_fault(model, **_):
    from botocore.awsrequest import AWSResponse

    with _FAULTS_LOCK:
        key = (model.service_model.service_name, model.name)
        fault = next((f for f in _FAULTS if f.get("Count", 1) > 0 and (f["Service"], f["Operation"]) == key), None)
        if fault is None:
            return None
        fault["Count"] = fault.get("Count", 1) - 1
    return AWSResponse("", 400, {}, None), {
        "Error": {"Code": fault["Code"], "Message": "injected by the test"},
        "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "injected-fault"},
    }


def _chain_hook(request, full_url, headers):
    from moto.emr.models import emr_backends
    from moto.redshiftdata.models import redshiftdata_backends

    body = json.loads(request.get_data() or b"{}")
    hook = full_url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    if hook == "faults":
        with _FAULTS_LOCK:
            _FAULTS[:] = body
    elif hook == "batch-outcome":
        (_FAILING_JOBS.add if body["Status"] == "FAILED" else _FAILING_JOBS.discard)(body["JobName"])
    elif hook == "emr-step":
        steps = [s for a in emr_backends.values() for b in a.values() for c in b.clusters.values() for s in c.steps]
        step = next((s for s in steps if s.id == body["StepId"]), None)
        if step is None:
            return 404, {}, json.dumps({"message": f"no step {body['StepId']}"})
        step.state, step.end_date_time = body["State"], datetime.datetime.now(datetime.UTC)
    elif hook == "redshift-statement":
        found = [b.statements[body["Id"]] for a in redshiftdata_backends.values() for b in a.values() if body["Id"] in b.statements]
        if not found:
            return 404, {}, json.dumps({"message": f"no statement {body['Id']}"})
        found[0].status = body["Status"]
        for sub in found[0].sub_statements:
            sub["Status"] = body["Status"]
    else:
        return 404, {}, json.dumps({"message": f"no hook {hook}"})
    return 200, {"Content-Type": "application/json"}, "{}"


def _install_chain_hooks() -> None:
    """The hooks' routes, and the fault hook in every client the interpreter makes."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for

    def client_with_faults(*args, **kwargs):
        client = original(*args, **kwargs)
        client.meta.events.register("before-call", _inject_fault)
        return client

    for module in list(sys.modules.values()):
        if getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = client_with_faults
    for hook in ("emr-step", "redshift-statement", "batch-outcome", "faults"):
        moto_api_paths[f"{{0}}/moto-api/chain/{hook}"] = _chain_hook


def main() -> None:
    """moto_server's command line (`-H HOST -p PORT`), so one launcher starts either."""
    from moto.server import main as serve

    # The interpreter calls this server back on MOTO_PORT.
    os.environ["MOTO_PORT"] = sys.argv[sys.argv.index("-p") + 1]
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    _install_chain_hooks()
    serve(sys.argv[1:])


if __name__ == "__main__":
    main()
