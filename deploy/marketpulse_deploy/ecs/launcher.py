"""Runs the producer as N shards on ECS (Fargate Spot by default) and sees
each to the end: it starts one task per shard with MARKETPULSE_SHARD_INDEX,
MARKETPULSE_SHARD_COUNT and MARKETPULSE_OUT as container overrides, waits,
and when a task stops, looks at the lake: a shard is done when its manifest
there says `"complete": true`. Otherwise (a spot reclaim, a crash, a failed
start) the shard starts again with MARKETPULSE_RESUME=true, up to
--max-attempts. It prints each shard's outcome and exits 1 naming the
shards that never finished.

    marketpulse-ecs-launch --cluster marketpulse-dev --shards 10 --lake s3://bucket/lake \\
        --subnets subnet-a,subnet-b --security-groups sg-1 [-e MARKETPULSE_SCALE=10 …]
    marketpulse-ecs-launch --register deploy/ecs/task-definition.json \\
        --set IMAGE=… --set ACCOUNT_ID=… --set ENV=dev --set REGION=us-east-1

(or `python -m marketpulse_deploy.ecs.launcher`). It uses the usual AWS
settings; --endpoint-url points it at an emulator.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field

from ..cli import guarded
from ..lake import MANIFEST_DIR, manifest_shard
from ..templates import TemplateError, parse_pairs, render

PROG = "marketpulse-ecs-launch"
CONTAINER = "producer"
STARTED_BY = "marketpulse-fleet"


def register(ecs, path: str, values: dict[str, str]) -> str:
    try:
        with open(path) as f:
            definition = render(f.read(), values)
    except OSError as e:
        raise TemplateError(f"cannot read {path}: {e.strerror}") from None
    return ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]


@dataclass
class Shard:
    index: int
    attempts: int = 0
    task: str | None = None
    done: bool = False
    history: list[str] = field(default_factory=list)


def shard_complete(s3, lake: str, index: int, count: int) -> bool:
    """True when the lake holds shard `index` of `count`'s complete manifest."""
    bucket, _, prefix = lake.removeprefix("s3://").partition("/")
    root = f"{prefix.strip('/')}/".lstrip("/")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{root}{MANIFEST_DIR}/", Delimiter="/"):
        for obj in page.get("Contents", []):
            if manifest_shard(obj["Key"][len(root) :]) == (index, count):
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                if json.loads(body).get("complete") is True:
                    return True
    return False


@dataclass
class Fleet:
    """N shards of one task definition into one lake, started and watched."""

    ecs: object
    s3: object
    cluster: str
    task_definition: str
    lake: str
    shards: int
    subnets: list[str]
    security_groups: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    capacity_provider: str = "FARGATE_SPOT"
    max_attempts: int = 3
    state: dict[int, Shard] = field(default_factory=dict)

    def start(self) -> None:
        for i in range(self.shards):
            self.state[i] = Shard(i)
            self._launch(self.state[i])

    def _launch(self, shard: Shard) -> None:
        env = {**self.environment, "MARKETPULSE_SHARD_INDEX": str(shard.index),
               "MARKETPULSE_SHARD_COUNT": str(self.shards), "MARKETPULSE_OUT": self.lake}  # fmt: skip
        if shard.attempts > 0:
            env["MARKETPULSE_RESUME"] = "true"  # keep what the stopped task delivered
        answer = self.ecs.run_task(
            cluster=self.cluster,
            taskDefinition=self.task_definition,
            count=1,
            startedBy=STARTED_BY,
            capacityProviderStrategy=[{"capacityProvider": self.capacity_provider, "weight": 1}],
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": self.subnets,
                    "securityGroups": self.security_groups,
                    "assignPublicIp": "DISABLED",
                }
            },
            overrides={"containerOverrides": [
                {"name": CONTAINER, "environment": [{"name": k, "value": v} for k, v in sorted(env.items())]}
            ]},
        )  # fmt: skip
        if not answer.get("tasks"):
            reason = (answer.get("failures") or [{}])[0].get("reason", "no task started")
            shard.history.append(f"attempt {shard.attempts + 1}: {reason}")
            shard.attempts += 1
            shard.task = None
            return
        shard.attempts += 1
        shard.task = answer["tasks"][0]["taskArn"]

    def poll(self) -> bool:
        """One look at the running tasks: a stopped task's shard is done if
        the lake has its complete manifest, else it starts again. True when
        no shard is left to wait for."""
        running = {s.task: s for s in self.state.values() if s.task and not s.done}
        if running:
            tasks = self.ecs.describe_tasks(cluster=self.cluster, tasks=list(running))["tasks"]
            for task in tasks:
                if task.get("lastStatus") != "STOPPED":
                    continue
                shard = running[task["taskArn"]]
                code = next((c.get("exitCode") for c in task.get("containers", []) if c.get("name") == CONTAINER), None)
                if shard_complete(self.s3, self.lake, shard.index, self.shards):
                    shard.done = True
                    shard.history.append(f"attempt {shard.attempts}: complete (exit {code})")
                    continue
                why = task.get("stoppedReason") or task.get("stopCode") or "stopped"
                shard.history.append(f"attempt {shard.attempts}: {why} (exit {code}), shard incomplete")
                shard.task = None
        for shard in self.state.values():
            if not shard.done and shard.task is None and shard.attempts < self.max_attempts:
                self._launch(shard)
        return all(s.done or (s.task is None and s.attempts >= self.max_attempts) for s in self.state.values())

    def failed(self) -> list[int]:
        return [s.index for s in self.state.values() if not s.done]

    def report(self) -> str:
        lines = [f"shard {s.index}: {'done' if s.done else 'FAILED'} after {s.attempts} attempt(s); "
                 + "; ".join(s.history) for s in self.state.values()]  # fmt: skip
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--cluster")
    p.add_argument("--task-definition", help="family[:revision] (default: <cluster>-producer, the environment's family)")
    p.add_argument("--shards", type=int)
    p.add_argument("--lake", help="s3://bucket/prefix the shards write (MARKETPULSE_OUT)")
    p.add_argument("--subnets", default="")
    p.add_argument("--security-groups", default="")
    p.add_argument("--capacity-provider", default="FARGATE_SPOT", choices=["FARGATE_SPOT", "FARGATE"])
    p.add_argument("--max-attempts", type=int, default=3)
    p.add_argument("--poll-seconds", type=float, default=15)
    p.add_argument("-e", "--env", action="append", default=[], help="MARKETPULSE_NAME=value for every shard")
    p.add_argument("--register", metavar="JSON", help="register this task definition and exit")
    p.add_argument("--set", action="append", default=[], help="NAME=value for the definition's ${NAME}")
    p.add_argument("--endpoint-url")
    a = p.parse_args(argv)
    if not a.register and (not a.cluster or not a.shards or a.shards < 1 or not (a.lake or "").startswith("s3://")):
        p.error("--cluster, --shards (at least 1) and --lake s3://… are needed to launch")
    return guarded(PROG, lambda: run(a))


def run(a: argparse.Namespace) -> int:
    import boto3

    ecs = boto3.client("ecs", endpoint_url=a.endpoint_url)
    if a.register:
        print(register(ecs, a.register, parse_pairs(a.set, "--set")))
        return 0
    fleet = Fleet(
        ecs, boto3.client("s3", endpoint_url=a.endpoint_url), a.cluster, a.task_definition or f"{a.cluster}-producer", a.lake, a.shards,
        [s for s in a.subnets.split(",") if s], [g for g in a.security_groups.split(",") if g],
        parse_pairs(a.env, "-e"), a.capacity_provider, a.max_attempts,
    )  # fmt: skip
    fleet.start()
    while not fleet.poll():
        time.sleep(a.poll_seconds)
    print(fleet.report())
    if fleet.failed():
        print(f"{PROG}: shard(s) {', '.join(map(str, fleet.failed()))} did not finish", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
