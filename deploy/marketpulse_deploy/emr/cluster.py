"""Runs the producer fleet on EMR: publishes the artifacts the cluster
installs, creates a transient cluster whose one step is the fan-out
(deploy/emr/cluster.json + steps/fleet.json, shipped inside this package),
or adds that step to a running cluster; then waits for the step and exits 1
naming it if it failed.

    marketpulse-emr publish --bucket ARTIFACTS --binary target/release/marketpulse [--wheel jobs/dist/….whl]
    marketpulse-emr create --shards 40 --set ENV=dev --set … -- --scale 10 --days 30
    marketpulse-emr add-step --cluster-id j-… --shards 40 --set … -- --scale 10 --days 30

(or `python -m marketpulse_deploy.emr.cluster`). `--` ends these flags;
what follows goes to `marketpulse generate` on every shard, after the
step's `--out ${LAKE}`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import subprocess
import sys
import time
import zipfile
from importlib.resources import files
from pathlib import Path

from .. import lake
from ..cli import guarded
from ..templates import parse_pairs, render
from . import fleet

PROG = "marketpulse-emr"
# deploy/emr's bootstrap actions and templates, inside the wheel.
ASSETS = files(__package__)
FINAL = ("COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lake_zip() -> bytes:
    """`marketpulse_deploy.lake` and the contract it reads, as a package in a
    zip: the fleet step's `--py-files`, from which its driver imports them."""
    package = files(lake.__package__)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name in ("__init__.py", "lake.py", "layout.schema.json"):
            # A fixed date: the same package gives the same bytes.
            entry = zipfile.ZipInfo(f"{lake.__package__}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(entry, (package / name).read_bytes())
    return buffer.getvalue()


def publish(
    s3, bucket: str, binary: Path, wheel: Path | None = None, entrypoints: Path = Path("jobs/entrypoints")
) -> dict[str, str]:
    """Uploads the binary (named by its version), the bootstrap actions, the
    fleet driver (this package's `fleet` module, the script spark-submit
    runs) with the lake reader it imports (`lake_zip`), and with `wheel` the
    jobs wheel and the Glue/EMR entry points in `entrypoints`; returns the
    values the cluster definitions need for them."""
    try:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout.split()[-1]
    except (OSError, subprocess.CalledProcessError, IndexError) as e:
        raise SystemExit(f"{PROG}: {binary} is not a runnable marketpulse binary ({e})") from None
    scripts = sorted(entrypoints.glob("*.py")) if wheel is not None else []
    if wheel is not None:
        m = re.fullmatch(r"marketpulse_jobs-([^-]+)-py3-none-any\.whl", wheel.name)
        if not m or not wheel.is_file():
            raise SystemExit(f"{PROG}: {wheel} is not a marketpulse_jobs wheel (make wheel builds jobs/dist/*.whl)")
        if not scripts:
            raise SystemExit(f"{PROG}: no entry points in {entrypoints} (run from the repository root or pass --entrypoints)")
    s3.upload_file(str(binary), bucket, f"bin/marketpulse-{version}")
    for name in ("bootstrap.sh", "install-jobs.sh"):
        s3.put_object(Bucket=bucket, Key=f"emr/{name}", Body=(ASSETS / name).read_bytes())
    s3.upload_file(fleet.__file__, bucket, "emr/fleet.py")
    s3.put_object(Bucket=bucket, Key="emr/lake.zip", Body=lake_zip())
    values = {"ARTIFACTS_BUCKET": bucket, "VERSION": version, "BINARY_SHA256": sha256(binary)}
    if wheel is not None:
        s3.upload_file(str(wheel), bucket, f"jobs/{wheel.name}")
        for script in scripts:
            s3.upload_file(str(script), bucket, f"jobs/entrypoints/{script.name}")
        values |= {"JOBS_VERSION": m[1], "JOBS_SHA256": sha256(wheel)}
    return values


def fleet_step(values: dict[str, str], shards: int, generate: list[str]) -> dict:
    step = render((ASSETS / "steps" / "fleet.json").read_text(), {**values, "SHARDS": str(shards)})
    step["HadoopJarStep"]["Args"] += generate
    return step


def create(emr, values: dict[str, str], step: dict) -> str:
    cluster = render((ASSETS / "cluster.json").read_text(), values)
    return emr.run_job_flow(**cluster, Steps=[step])["JobFlowId"]


def wait(emr, cluster: str, step: str, poll_seconds: float, timeout_seconds: float) -> dict:
    deadline = time.monotonic() + timeout_seconds
    while True:
        status = emr.describe_step(ClusterId=cluster, StepId=step)["Step"]["Status"]
        if status["State"] in FINAL:
            return status
        if time.monotonic() > deadline:
            raise SystemExit(f"{PROG}: step {step} on {cluster} not finished after {timeout_seconds:.0f} s")
        time.sleep(poll_seconds)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ours, generate = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=["publish", "create", "add-step"])
    p.add_argument("--bucket", help="publish: the artifacts bucket")
    p.add_argument("--binary", type=Path, help="publish: the release binary")
    p.add_argument("--wheel", type=Path, help="publish: the jobs wheel (jobs/dist/marketpulse_jobs-*.whl)")
    p.add_argument("--entrypoints", type=Path, default=Path("jobs/entrypoints"),
                   help="publish: the jobs' Glue/EMR entry point scripts (default: %(default)s)")  # fmt: skip
    p.add_argument("--cluster-id", help="add-step: the running cluster")
    p.add_argument("--shards", type=int, help="number of shards (one Spark task each)")
    p.add_argument("--set", action="append", default=[], help="NAME=value for the templates' ${NAME}")
    p.add_argument("--no-wait", action="store_true", help="print the ids and return at once")
    p.add_argument("--poll-seconds", type=float, default=30)
    p.add_argument("--timeout-seconds", type=float, default=6 * 3600)
    p.add_argument("--endpoint-url")
    a = p.parse_args(ours)
    if a.action == "publish" and (not a.bucket or not a.binary):
        p.error("publish needs --bucket and --binary")
    if a.action != "publish" and (not a.shards or a.shards < 1):
        p.error(f"{a.action} needs --shards (at least 1)")
    if a.action == "add-step" and not a.cluster_id:
        p.error("add-step needs --cluster-id")
    return guarded(PROG, lambda: run(a, generate))


def run(a: argparse.Namespace, generate: list[str]) -> int:
    import boto3

    if a.action == "publish":
        values = publish(boto3.client("s3", endpoint_url=a.endpoint_url), a.bucket, a.binary, a.wheel, a.entrypoints)
        print(" ".join(f"--set {k}={v}" for k, v in values.items()))
        return 0
    emr = boto3.client("emr", endpoint_url=a.endpoint_url)
    values = parse_pairs(a.set, "--set")
    step = fleet_step(values, a.shards, generate)
    if a.action == "create":
        cluster = create(emr, values, step)
        step_id = emr.list_steps(ClusterId=cluster)["Steps"][0]["Id"]
    else:
        cluster = a.cluster_id
        step_id = emr.add_job_flow_steps(JobFlowId=cluster, Steps=[step])["StepIds"][0]
    print(json.dumps({"cluster": cluster, "step": step_id}))
    if a.no_wait:
        return 0
    status = wait(emr, cluster, step_id, a.poll_seconds, a.timeout_seconds)
    if status["State"] != "COMPLETED":
        reason = status.get("FailureDetails", {}).get("Message") or status.get("StateChangeReason", {}).get("Message", "")
        print(f"{PROG}: step {step_id} on {cluster} ended {status['State']}: {reason or 'see its stderr in the logs'}", file=sys.stderr)
        return 1
    print(f"{PROG}: step {step_id} on {cluster} completed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
