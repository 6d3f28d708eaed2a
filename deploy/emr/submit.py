#!/usr/bin/env python3
"""Runs the producer fleet on EMR: publishes the artifacts the cluster
installs, creates a transient cluster whose one step is the fan-out
(deploy/emr/cluster.json + steps/fleet.json), or adds that step to a running
cluster; then waits for the step and exits 1 naming it if it failed.

    deploy/emr/submit.py publish --bucket ARTIFACTS --binary target/release/marketpulse
    deploy/emr/submit.py create --shards 40 --set ENV=dev --set … -- --scale 10 --days 30
    deploy/emr/submit.py add-step --cluster-id j-… --shards 40 --set … -- --scale 10 --days 30

`--` ends the submitter's flags; what follows goes to `marketpulse generate`
on every shard, after the step's `--out ${LAKE}`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "ecs"))
from launch import parse_pairs, render  # one placeholder syntax for every engine

FINAL = ("COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def publish(s3, bucket: str, binary: Path, wheel: Path | None = None) -> dict[str, str]:
    """Uploads the binary (named by its version), the bootstrap actions and
    the driver, and with `wheel` the jobs wheel and its Glue/EMR entry
    points; returns the values the cluster definitions need for them."""
    try:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout.split()[-1]
    except (OSError, subprocess.CalledProcessError, IndexError) as e:
        raise SystemExit(f"submit: {binary} is not a runnable marketpulse binary ({e})") from None
    s3.upload_file(str(binary), bucket, f"bin/marketpulse-{version}")
    s3.upload_file(str(HERE / "bootstrap.sh"), bucket, "emr/bootstrap.sh")
    s3.upload_file(str(HERE / "fleet.py"), bucket, "emr/fleet.py")
    s3.upload_file(str(HERE / "install-jobs.sh"), bucket, "emr/install-jobs.sh")
    values = {"ARTIFACTS_BUCKET": bucket, "VERSION": version, "BINARY_SHA256": sha256(binary)}
    if wheel is not None:
        m = re.fullmatch(r"marketpulse_jobs-([^-]+)-py3-none-any\.whl", wheel.name)
        if not m:
            raise SystemExit(f"submit: {wheel} is not a marketpulse_jobs wheel (make wheel builds jobs/dist/*.whl)")
        s3.upload_file(str(wheel), bucket, f"jobs/{wheel.name}")
        for script in sorted((HERE.parents[1] / "jobs" / "entrypoints").glob("*.py")):
            s3.upload_file(str(script), bucket, f"jobs/entrypoints/{script.name}")
        values |= {"JOBS_VERSION": m[1], "JOBS_SHA256": sha256(wheel)}
    return values


def fleet_step(values: dict[str, str], shards: int, generate: list[str]) -> dict:
    step = render((HERE / "steps" / "fleet.json").read_text(), {**values, "SHARDS": str(shards)})
    step["HadoopJarStep"]["Args"] += generate
    return step


def create(emr, values: dict[str, str], step: dict) -> str:
    cluster = render((HERE / "cluster.json").read_text(), values)
    return emr.run_job_flow(**cluster, Steps=[step])["JobFlowId"]


def wait(emr, cluster: str, step: str, poll_seconds: float, timeout_seconds: float) -> dict:
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = emr.describe_step(ClusterId=cluster, StepId=step)["Step"]["Status"]
        if status["State"] in FINAL:
            return status
        if time.monotonic() > deadline:
            raise SystemExit(f"submit: step {step} on {cluster} not finished after {timeout_seconds:.0f} s")
        time.sleep(poll_seconds)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ours, generate = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    p = argparse.ArgumentParser(prog="submit", description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=["publish", "create", "add-step"])
    p.add_argument("--bucket", help="publish: the artifacts bucket")
    p.add_argument("--binary", type=Path, help="publish: the release binary")
    p.add_argument("--wheel", type=Path, help="publish: the jobs wheel (jobs/dist/marketpulse_jobs-*.whl)")
    p.add_argument("--cluster-id", help="add-step: the running cluster")
    p.add_argument("--shards", type=int, help="number of shards (one Spark task each)")
    p.add_argument("--set", action="append", default=[], help="NAME=value for the templates' ${NAME}")
    p.add_argument("--no-wait", action="store_true", help="print the ids and return at once")
    p.add_argument("--poll-seconds", type=float, default=30)
    p.add_argument("--timeout-seconds", type=float, default=6 * 3600)
    p.add_argument("--endpoint-url")
    a = p.parse_args(ours)
    import boto3

    if a.action == "publish":
        if not a.bucket or not a.binary:
            p.error("publish needs --bucket and --binary")
        values = publish(boto3.client("s3", endpoint_url=a.endpoint_url), a.bucket, a.binary, a.wheel)
        print(" ".join(f"--set {k}={v}" for k, v in values.items()))
        return 0
    if not a.shards or a.shards < 1:
        p.error(f"{a.action} needs --shards (at least 1)")
    values = parse_pairs(a.set, "--set")
    step = fleet_step(values, a.shards, generate)
    emr = boto3.client("emr", endpoint_url=a.endpoint_url)
    if a.action == "create":
        cluster = create(emr, values, step)
        step_id = emr.list_steps(ClusterId=cluster)["Steps"][0]["Id"]
    else:
        if not a.cluster_id:
            p.error("add-step needs --cluster-id")
        cluster = a.cluster_id
        step_id = emr.add_job_flow_steps(JobFlowId=cluster, Steps=[step])["StepIds"][0]
    print(json.dumps({"cluster": cluster, "step": step_id}))
    if a.no_wait:
        return 0
    status = wait(emr, cluster, step_id, a.poll_seconds, a.timeout_seconds)
    if status["State"] != "COMPLETED":
        reason = status.get("FailureDetails", {}).get("Message") or status.get("StateChangeReason", {}).get("Message", "")
        print(f"submit: step {step_id} on {cluster} ended {status['State']}: {reason or 'see its stderr in the logs'}", file=sys.stderr)
        return 1
    print(f"submit: step {step_id} on {cluster} completed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
