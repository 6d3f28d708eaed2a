"""Runs the producer as an AWS Batch array job: N children, each its own
shard (Batch numbers them: AWS_BATCH_JOB_ARRAY_INDEX, which `generate`
reads when nothing else sets the index). The job definition retries a child
whose spot host was reclaimed (`evaluateOnExit` on "Host EC2*") or that was
stopped by SIGTERM (exit 143); MARKETPULSE_RESUME=true makes a retry keep
what the lost attempt delivered. It waits for the children, prints each
one's status and exits 1 naming the ones that failed.

    marketpulse-batch-submit --queue marketpulse-dev-spot --shards 10 --lake s3://bucket/lake [-e MARKETPULSE_SCALE=10 …]
    marketpulse-batch-submit --register deploy/batch/job-definition.json --set IMAGE=… --set ACCOUNT_ID=… --set ENV=dev

(or `python -m marketpulse_deploy.batch.array_job`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..cli import guarded
from ..templates import TemplateError, parse_pairs, render

PROG = "marketpulse-batch-submit"
FINAL = ("SUCCEEDED", "FAILED")


def register(batch, path: str, values: dict[str, str]) -> str:
    try:
        definition = render(Path(path).read_text(), values)
    except OSError as e:
        raise TemplateError(f"cannot read {path}: {e.strerror}") from None
    return batch.register_job_definition(**definition)["jobDefinitionArn"]


def submit(batch, queue: str, definition: str, shards: int, lake: str | None, env: dict[str, str]) -> str:
    overrides = {**env, "MARKETPULSE_SHARD_COUNT": str(shards)}
    if lake:
        overrides["MARKETPULSE_OUT"] = lake
    return batch.submit_job(
        jobName="marketpulse-fleet",
        jobQueue=queue,
        jobDefinition=definition,
        arrayProperties={"size": shards},
        containerOverrides={"environment": [{"name": k, "value": v} for k, v in sorted(overrides.items())]},
    )["jobId"]


def children(batch, job: str, shards: int) -> list[dict]:
    ids = [f"{job}:{i}" for i in range(shards)]
    found = []
    for start in range(0, len(ids), 100):  # DescribeJobs takes 100 ids at a time
        found += batch.describe_jobs(jobs=ids[start : start + 100])["jobs"]
    return sorted(found, key=lambda j: int(j["jobId"].rsplit(":", 1)[1]))


def wait(batch, job: str, shards: int, poll_seconds: float, timeout_seconds: float) -> list[dict]:
    deadline = time.monotonic() + timeout_seconds
    while True:
        kids = children(batch, job, shards)
        if len(kids) == shards and all(k["status"] in FINAL for k in kids):
            return kids
        if time.monotonic() > deadline:
            raise SystemExit(f"{PROG}: array job {job} not finished after {timeout_seconds:.0f} s")
        time.sleep(poll_seconds)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--queue")
    p.add_argument("--job-definition", help="name[:revision] (default: the queue's environment's, <env prefix>-producer for <env prefix>-spot)")
    p.add_argument("--shards", type=int)
    p.add_argument("--lake", help="s3://bucket/prefix (default: the job definition's MARKETPULSE_OUT)")
    p.add_argument("-e", "--env", action="append", default=[], help="MARKETPULSE_NAME=value for every child")
    p.add_argument("--poll-seconds", type=float, default=15)
    p.add_argument("--timeout-seconds", type=float, default=6 * 3600)
    p.add_argument("--register", metavar="JSON", help="register this job definition and exit")
    p.add_argument("--set", action="append", default=[], help="NAME=value for the definition's ${NAME}")
    p.add_argument("--endpoint-url")
    a = p.parse_args(argv)
    if not a.register and (not a.queue or not a.shards or not 2 <= a.shards <= 10_000):
        p.error("--queue and --shards (an array job has 2 to 10,000 children) are needed to submit")
    return guarded(PROG, lambda: run(a))


def run(a: argparse.Namespace) -> int:
    import boto3

    batch = boto3.client("batch", endpoint_url=a.endpoint_url)
    if a.register:
        print(register(batch, a.register, parse_pairs(a.set, "--set")))
        return 0
    definition = a.job_definition or f"{a.queue.removesuffix('-spot')}-producer"
    job = submit(batch, a.queue, definition, a.shards, a.lake, parse_pairs(a.env, "-e"))
    kids = wait(batch, job, a.shards, a.poll_seconds, a.timeout_seconds)
    for k in kids:
        attempts = len(k.get("attempts", []))
        print(f"shard {k['jobId'].rsplit(':', 1)[1]}: {k['status']} after {attempts} attempt(s) {k.get('statusReason', '')}")
    failed = [k["jobId"].rsplit(":", 1)[1] for k in kids if k["status"] != "SUCCEEDED"]
    if failed:
        print(f"{PROG}: shard(s) {', '.join(failed)} of array job {job} failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
