"""The access ledger judged by an independent evaluator.

Each ledger entry (marketpulse_testkit.ledger) becomes one simulation for
@cloud-copilot/iam-simulate (infra/tests/access, run by node): the calling
role's identity policies, the resource's own policy (bucket or KMS key) and
the VPC endpoint the call passes through, all read from the applied state
(`terraform show -json`), with the request context AWS would set."""

from __future__ import annotations

import copy
import json
import subprocess
from dataclasses import dataclass, field

from .aws import ACCOUNT
from .paths import REPO

EVALUATOR = REPO / "infra" / "tests" / "access"
# Where each component runs: in the VPC's private subnets (its S3 and
# Glue calls pass the endpoints' policies) or outside it. Redshift reaches S3
# through the endpoint (enhanced VPC routing); Glue's job has no connection;
# the launchers run where an operator or the daily chain does.
IN_VPC = {"producer": True, "emr_fleet": True, "bronze_to_silver": True, "silver_to_gold": False, "redshift": True,
          "ecs_task": True, "ecs_launcher": False, "batch_launcher": False}  # fmt: skip


@dataclass
class Applied:
    """The policies of one applied environment."""

    identity: dict[str, list[dict]] = field(default_factory=dict)  # role ARN -> [{name, policy}]
    buckets: dict[str, dict] = field(default_factory=dict)  # bucket name -> bucket policy
    keys: dict[str, dict] = field(default_factory=dict)  # KMS key ARN -> key policy
    endpoints: dict[str, dict] = field(default_factory=dict)  # service (s3, glue) -> {id, vpc, policy}
    unreadable: list[str] = field(default_factory=list)  # policies attached but not in the state

    @classmethod
    def from_state(cls, state: dict) -> Applied:
        applied, roles, attached = cls(), {}, []
        for r in resources(state["values"]["root_module"]):
            kind, v = r["type"], r["values"]
            if kind == "aws_iam_role":
                roles[v["name"]] = v["arn"]
            elif kind == "aws_iam_role_policy":
                attached.append((v["role"], f"{r['address']}", json.loads(v["policy"])))
            elif kind == "aws_iam_role_policy_attachment":
                applied.unreadable.append(f"{r['address']}: {v['policy_arn']}")
            elif kind == "aws_s3_bucket_policy":
                applied.buckets[v["bucket"]] = json.loads(v["policy"])
            elif kind == "aws_kms_key":
                applied.keys[v["arn"]] = json.loads(v["policy"])
            elif kind == "aws_vpc_endpoint" and v.get("policy"):
                service = v["service_name"].split(".", 3)[-1]
                applied.endpoints[service] = {"id": v["id"], "vpc": v["vpc_id"], "policy": json.loads(v["policy"])}
        for role, name, policy in attached:
            applied.identity.setdefault(roles[role], []).append({"name": name, "policy": policy})
        return applied

    def policies(self):
        """(kind, owner, document) of every policy: identity (owner: role ARN#n), bucket, key, endpoint."""
        for arn, named in self.identity.items():
            yield from (("identity", f"{arn}#{n}", p["policy"]) for n, p in enumerate(named))
        yield from (("bucket", name, policy) for name, policy in self.buckets.items())
        yield from (("key", arn, policy) for arn, policy in self.keys.items())
        yield from (("endpoint", service, e["policy"]) for service, e in self.endpoints.items())

    def policy(self, kind: str, owner: str) -> dict:
        if kind == "identity":
            arn, n = owner.rsplit("#", 1)
            return self.identity[arn][int(n)]["policy"]
        return {"bucket": self.buckets, "key": self.keys}[kind][owner] if kind != "endpoint" else self.endpoints[owner]["policy"]

    def statements(self) -> list[tuple[str, str, int]]:
        """(kind, owner, index) of every Allow statement, for the mutation check."""
        return [
            (kind, owner, i) for kind, owner, policy in self.policies()
            for i, s in enumerate(statements(policy)) if s["Effect"] == "Allow"
        ]  # fmt: skip

    def without(self, kind: str, owner: str, index: int) -> Applied:
        """A copy with one statement removed."""
        mutated = copy.deepcopy(self)
        policy = mutated.policy(kind, owner)
        policy["Statement"] = [s for i, s in enumerate(statements(policy)) if i != index]
        return mutated


def resources(module: dict):
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from resources(child)


def statements(policy: dict) -> list[dict]:
    found = policy.get("Statement", [])
    return found if isinstance(found, list) else [found]


def role_of(principal: str) -> str:
    """arn:aws:sts::A:assumed-role/NAME/SESSION -> arn:aws:iam::A:role/NAME"""
    account, rest = principal.split(":", 5)[4:]
    return f"arn:aws:iam::{account}:role/{rest.split('/')[1]}"


def simulation(entry: dict, applied: Applied) -> dict:
    """The iam-simulate input for one ledger entry."""
    role = role_of(entry["principal"])
    service = entry["action"].split(":")[0]
    resource = entry["resource"] or "*"  # an action without resource-level permissions
    context = {
        **entry["context"],
        "aws:PrincipalArn": role,
        "aws:PrincipalAccount": ACCOUNT,
        "aws:ResourceAccount": ACCOUNT,  # every resource the platform calls is its own
        "aws:PrincipalType": "AssumedRole",
        "aws:userid": f"AROA:{entry['principal'].rsplit('/', 1)[1]}",
    }
    sim = {
        "request": {
            "principal": entry["principal"],
            "action": entry["action"],
            "resource": {"resource": resource, "accountId": ACCOUNT},
            "contextVariables": context,
        },
        "identityPolicies": applied.identity.get(role, []),
    }
    if service == "s3":
        policy = applied.buckets.get(resource.split(":::", 1)[1].split("/", 1)[0])
    else:
        policy = applied.keys.get(resource) if service == "kms" else None
    if policy is not None:
        sim["resourcePolicy"] = policy
    endpoint = applied.endpoints.get(service)
    if IN_VPC.get(entry["component"]) and endpoint:
        context.update({"aws:SourceVpce": endpoint["id"], "aws:SourceVpc": endpoint["vpc"]})
        sim["vpcEndpointPolicies"] = [{"name": endpoint["id"], "policy": endpoint["policy"]}]
    return sim


def evaluate(simulations: list[dict]) -> list[str]:
    """iam-simulate's overall result of each simulation (Allowed, ImplicitlyDenied, ExplicitlyDenied, Error)."""
    done = subprocess.run(
        ["node", str(EVALUATOR / "evaluate.mjs")], input=json.dumps(simulations), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the evaluator failed: {done.stderr[-3000:]}")
    verdicts = json.loads(done.stdout)
    return [v["result"] if v["result"] != "Error" else f"Error: {v['errors']['message']}" for v in verdicts]
