"""Runs the producer as N shards on a Spark cluster: one Spark task per
shard (one partition each), every task `marketpulse generate --shard-index i
--shard-count N --resume …`. Spark's task retries rerun a shard whose
executor or spot node was lost, and `--resume` keeps what the lost attempt
delivered. A shard is done when its producer's `--metrics-json` and its
manifest in the lake both say complete; the driver prints each shard's
rows, files and bytes (from the manifest) and attempt count, and fails the
step, naming the shard, when one fails after its retries.

    spark-submit --conf spark.speculation=false --py-files lake.zip fleet.py --shards 40 \\
        -- --out s3://bucket/lake --scale 10 --days 30

Everything after `--` goes to `marketpulse generate` unchanged; `--out`
must be a place every executor sees (s3://… or an absolute shared path).

`marketpulse-emr publish` uploads this file as the step's script and
`lake.zip`, the package's lake reader with its contract, for `--py-files`.
Of its package it imports only `marketpulse_deploy.lake`, by absolute
name, so the import resolves to the zip under spark-submit and to the
installed package elsewhere; pyspark and boto3 (which EMR provides) only
where used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from marketpulse_deploy.lake import MANIFEST_DIR, manifest_shard

# Prefixes the message a failed task raises, so the driver can find it in
# Spark's error.
MARK = "marketpulse-fleet:"
OWN_FLAGS = ("--shard-index", "--shard-count", "--resume", "--metrics-json", "--dry-run", "--print-config")
TRUTH = "truth"


class FleetError(Exception):
    """A problem the step reports in one line and exits non-zero on."""


def run_shard(index: int, job: dict) -> dict:
    """One shard, in a Spark task: the producer as a child process, judged
    by the `--metrics-json` it writes when it ends."""
    from pyspark import TaskContext

    attempt = TaskContext.get().attemptNumber() + 1
    where = f"{MARK} shard {index} of {job['shards']}"
    with tempfile.TemporaryDirectory(prefix="marketpulse-fleet-") as tmp:
        metrics = os.path.join(tmp, "metrics.json")
        cmd = [job["binary"], "generate", *job["args"], "--resume"]
        cmd += ["--shard-index", str(index), "--shard-count", str(job["shards"]), "--metrics-json", metrics]
        started = time.monotonic()
        done = subprocess.run(
            cmd, env={**os.environ, **job["env"]}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False
        )
        if done.returncode < 0:
            raise RuntimeError(f"{where}: marketpulse was killed by signal {-done.returncode}")
        if done.returncode != 0:
            # The producer's error is its last line (the rest is progress).
            last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "no output")
            raise RuntimeError(f"{where}: marketpulse exited {done.returncode}: {last}")
        try:
            with open(metrics) as f:
                sink = json.load(f)
        except (OSError, ValueError) as e:
            raise RuntimeError(f"{where}: marketpulse ended without its --metrics-json ({e})") from None
    return {
        "shard": index,
        "attempt": attempt,
        "seconds": round(time.monotonic() - started, 3),
        "complete": sink["complete"] is True,
        "sink": {k: sink["metrics"][k] for k in ("requests", "retries", "throttles", "bytes")},
    }


def failed_shard(error: Exception) -> str:
    """The failed shard and its last error, from Spark's stage-abort message."""
    text = str(error)
    ours = re.findall(re.escape(MARK) + r" (shard \d+ of \d+: [^\n]*)", text)
    times = re.search(r"failed (\d+) times", text)
    if not ours:
        return f"the fan-out failed outside a shard: {text.strip().splitlines()[0] if text.strip() else error!r}"
    shard, _, reason = ours[-1].partition(": ")
    tries = f" after {times[1]} attempt(s)" if times else ""
    return f"{shard} failed{tries}: {reason}"


def flag(args: list[str], name: str) -> str:
    """The last value of `name` among `generate`'s flags, or ""."""
    values = [args[i + 1] for i, a in enumerate(args[:-1]) if a == name]
    values += [a.split("=", 1)[1] for a in args if a.startswith(f"{name}=")]
    return values[-1] if values else ""


def lake(args: list[str]) -> str:
    """The lake every shard writes (`--out`), or ""."""
    return flag(args, "--out")


def read_manifests(out: str, shards: int, s3=None) -> dict[int, dict]:
    """The lake's manifests of an N-shard run, by shard index. `s3` is the
    client for an s3:// lake."""
    readers = {}  # key relative to the lake's root -> its bytes, when called
    if out.startswith("s3://"):
        bucket, _, prefix = out[len("s3://") :].partition("/")
        root = f"{prefix.strip('/')}/".lstrip("/")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{root}{MANIFEST_DIR}/", Delimiter="/"):
            for o in page.get("Contents", []):
                readers[o["Key"][len(root) :]] = lambda key=o["Key"]: s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    else:
        folder = os.path.join(out, MANIFEST_DIR)
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            readers[f"{MANIFEST_DIR}/{name}"] = Path(folder, name).read_bytes
    found = {}
    for key, read in sorted(readers.items()):
        shard = manifest_shard(key)
        if shard and shard[1] == shards:
            found[shard[0]] = json.loads(read())
    return found


def s3_client(args: list[str], env: dict[str, str]):
    """An S3 client that sees the lake as the shards do: their endpoint and,
    when the step gives the shards AWS credentials, those."""
    import boto3

    names = {"aws_access_key_id": "AWS_ACCESS_KEY_ID", "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
             "aws_session_token": "AWS_SESSION_TOKEN", "region_name": "AWS_REGION"}  # fmt: skip
    session = boto3.Session(**{k: env[v] for k, v in names.items() if v in env})
    endpoint = flag(args, "--endpoint-url") or env.get("AWS_ENDPOINT_URL") or None
    return session.client("s3", endpoint_url=endpoint)


def shard_totals(manifest: dict) -> dict:
    """Rows, files and bytes a shard's manifest lists (its truth sidecars aside)."""
    data = [f for f in manifest["files"] if f["domain"] != TRUTH]
    return {"rows": sum(f["rows"] for f in data), "files": len(data), "bytes": sum(f["bytes"] for f in data)}


def producer_args(args: list[str], task_cpus: int) -> list[str]:
    """`generate`'s flags from the step, checked; one producer thread per task CPU unless set."""
    given = {a.split("=", 1)[0] for a in args if a.startswith("--")}
    if clash := sorted(given & set(OWN_FLAGS)):
        raise FleetError(f"{', '.join(clash)} is set by the fleet for each shard; leave it out")
    out = lake(args)
    if not out:
        raise FleetError("--out is needed after `--`: the lake every shard writes (s3://… or an absolute path)")
    if not (out.startswith("s3://") or os.path.isabs(out)):
        raise FleetError(f"--out {out} is relative: each executor would write its own; use s3://… or an absolute path")
    if "--threads" not in given:
        args = [*args, "--threads", str(task_cpus)]
    if "--quiet" not in given and "-q" not in args:
        args = [*args, "--quiet"]
    return args


def check_conf(conf) -> None:
    """Refuses a Spark configuration that would run a shard twice at once."""
    if conf.get("spark.speculation", "false").strip().lower() == "true":
        raise FleetError(
            "spark.speculation is on: a speculative copy of a shard would race the original "
            "for the same files and lock; set spark.speculation=false"
        )


def check_settings(binary: str, args: list[str], shards: int, env: dict[str, str]) -> None:
    """Runs the producer's own settings check once, before any task starts."""
    cmd = [binary, "generate", *args, "--shard-count", str(shards), "--print-config"]
    try:
        done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    except OSError as e:
        raise FleetError(f"cannot run the producer {binary}: {e.strerror}") from None
    if done.returncode != 0:
        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "no output")
        raise FleetError(f"the producer refused the settings: {last}")


def render(results: list[dict], shards: int) -> str:
    lines = []
    for r in sorted(results, key=lambda r: r["shard"]):
        retried = f" (after {r['attempt'] - 1} retry)" if r["attempt"] > 1 else ""
        if r["sink"]["retries"]:
            retried += f", {r['sink']['retries']} S3 request retries"
        lines.append(
            f"shard {r['shard']} of {shards}: done on attempt {r['attempt']}{retried}, "
            f"{r['rows']} rows, {r['files']} files, {r['bytes']} bytes, {r['seconds']} s"
        )
    rows = sum(r["rows"] for r in results)
    retries = sum(r["attempt"] - 1 for r in results)
    lines.append(f"fleet: {shards} shards, {rows} rows, {retries} retries")
    return "\n".join(lines)


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    ours, rest = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    p = argparse.ArgumentParser(prog="fleet", description=__doc__.split("\n\n")[0])
    p.add_argument("--shards", type=int, required=True, help="number of shards, one Spark task each")
    p.add_argument("--binary", default="/usr/local/bin/marketpulse", help="the producer on every node")
    p.add_argument("--env", action="append", default=[], help="NAME=value for every shard's environment")
    p.add_argument("--report", help="write the per-shard report as JSON to this local file")
    a = p.parse_args(ours)
    if a.shards < 1:
        p.error("--shards must be at least 1")
    bad = [e for e in a.env if "=" not in e or not e.split("=", 1)[0]]
    if bad:
        p.error(f"--env {bad[0]!r} is not NAME=value")
    return a, rest


def main(argv: list[str] | None = None, spark=None) -> int:
    a, rest = parse(sys.argv[1:] if argv is None else argv)
    own = spark is None
    if own:
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName(f"marketpulse-fleet-{a.shards}").getOrCreate()
    try:
        conf = spark.sparkContext.getConf()
        check_conf(conf)
        env = dict(e.split("=", 1) for e in a.env)
        args = producer_args(rest, int(conf.get("spark.task.cpus", "1")))
        check_settings(a.binary, args, a.shards, env)

        job = {"shards": a.shards, "binary": a.binary, "args": args, "env": env}
        sc = spark.sparkContext
        sc.setJobDescription(f"marketpulse fleet: {a.shards} shards")
        tasks = sc.parallelize(range(a.shards), a.shards)
        try:
            results = tasks.mapPartitionsWithIndex(lambda i, _: [run_shard(i, job)]).collect()
        except Exception as e:  # noqa: BLE001 - Spark wraps the task's error in a Py4J one
            raise FleetError(failed_shard(e)) from None
        out = lake(args)
        try:
            manifests = read_manifests(out, a.shards, s3_client(args, env) if out.startswith("s3://") else None)
        except Exception as e:  # noqa: BLE001 - a file system or S3 error, in one line
            raise FleetError(f"cannot read the manifests in {out}: {e}") from None
        incomplete = [r["shard"] for r in results if not (r["complete"] and manifests.get(r["shard"], {}).get("complete"))]
        if incomplete:
            raise FleetError(f"shard(s) {incomplete} ended without a complete manifest in {out}")
        for r in results:
            r |= shard_totals(manifests[r["shard"]])
        print(render(results, a.shards), flush=True)
        if a.report:
            with open(a.report, "w") as f:
                json.dump({"shards": a.shards, "args": args, "results": results}, f, indent=2)
        return 0
    except FleetError as e:
        print(f"fleet: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        if own:
            spark.stop()


if __name__ == "__main__":
    sys.exit(main())
