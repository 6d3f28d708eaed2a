"""moto's server with the few answers the AWS provider needs that the
pinned moto (infra/README.md) lacks, patched into moto's classes before the
server starts. Each patch has a scenario in test_emulator_patches.py, which
fails, saying the patch can go, once moto closes its gap.
Run: python emulator.py -H 127.0.0.1 -p PORT."""

from __future__ import annotations

import fnmatch
import json
import sys

from moto.budgets.responses import BudgetsResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.exceptions import InvalidPermissionNotFoundError
from moto.ec2.responses.security_groups import SecurityGroups
from moto.emr.responses import ElasticMapReduceResponse
from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult
from moto.iam.policy_conditions import CONDITION_OPERATIONS
from moto.kinesis.responses import KinesisResponse
from moto.redshift.models import Cluster as RedshiftCluster
from moto.redshift.responses import RedshiftResponse
from moto.s3.models import FakeBucket

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


def main() -> None:
    """moto_server's command line (`-H HOST -p PORT`), so one launcher starts either."""
    from moto.server import main as serve

    serve(sys.argv[1:])


if __name__ == "__main__":
    main()
