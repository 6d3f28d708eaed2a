#!/usr/bin/env python3
"""Runs the producer as N shards on a Spark cluster: one Spark task per
shard (one partition each), every task `marketpulse generate --shard-index i
--shard-count N --resume …`. Spark's task retries rerun a shard whose
executor or spot node was lost, and `--resume` keeps what the lost attempt
delivered. The driver prints each shard's summary and attempt count, and
fails the step, naming the shard, when one fails after its retries.

    spark-submit --conf spark.speculation=false fleet.py --shards 40 \\
        -- --out s3://bucket/lake --scale 10 --days 30

Everything after `--` goes to `marketpulse generate` unchanged; `--out`
must be a place every executor sees (s3://… or an absolute shared path).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

# Test-only switches, read by the driver and shipped to the tasks: the shard
# given to CRASH has its first attempt killed mid-run (a lost spot node);
# the one given to FAIL fails on every attempt.
CRASH = "MARKETPULSE_TEST_FLEET_CRASH"
FAIL = "MARKETPULSE_TEST_FLEET_FAIL"
# Prefixes the message a failed task raises, so the driver can find it in
# Spark's error.
MARK = "marketpulse-fleet:"
OWN_FLAGS = ("--shard-index", "--shard-count", "--resume", "--metrics-json", "--dry-run", "--print-config")


class FleetError(Exception):
    """A problem the step reports in one line and exits non-zero on."""


def summary(stderr: str) -> dict:
    """The totals and manifest from `generate`'s closing summary."""
    out: dict = {}
    for line in stderr.splitlines():
        if m := re.match(r"total\s+(\d+)\s+(\d+)\s", line):
            out["events"], out["files"] = int(m[1]), int(m[2])
        elif m := re.match(r"manifest (\S+) \(", line):
            out["manifest"] = m[1]
        elif m := re.match(r"resumed: (.*)", line):
            out["resumed"] = m[1]
    return out


def wait_for_delivery(proc: subprocess.Popen, out: str, index: int, shards: int) -> None:
    """Test switch: waits until a folder lake's journal shows the shard has
    delivered files (so the kill lands mid-run), or 20 ms on S3."""
    if out.startswith("s3://"):
        time.sleep(0.02)
        return
    journal = os.path.join(out, "_manifests", "_journal")
    mine = f"-shard-{index:05d}-of-{shards:05d}"
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if any(mine in d and os.listdir(os.path.join(journal, d)) for d in os.listdir(journal)):
                return
        time.sleep(0.001)


def run_shard(index: int, job: dict) -> dict:
    """One shard, in a Spark task: the producer as a child process."""
    from pyspark import TaskContext

    attempt = TaskContext.get().attemptNumber() + 1
    where = f"{MARK} shard {index} of {job['shards']}"
    if job["fail"] == index:
        raise RuntimeError(f"{where}: failed by {FAIL} (attempt {attempt})")
    with tempfile.TemporaryDirectory(prefix="marketpulse-fleet-") as tmp:
        metrics = os.path.join(tmp, "metrics.json")
        cmd = [job["binary"], "generate", *job["args"], "--resume"]
        cmd += ["--shard-index", str(index), "--shard-count", str(job["shards"]), "--metrics-json", metrics]
        started = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            env={**os.environ, **job["env"]},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        if job["crash"] == index and attempt == 1:
            wait_for_delivery(proc, job["out"], index, job["shards"])
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"{where}: producer killed by {CRASH} (attempt {attempt})")
        _, stderr = proc.communicate()
        if proc.returncode != 0:
            last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "no output")
            raise RuntimeError(f"{where}: marketpulse exited {proc.returncode}: {last}")
        with open(metrics) as f:
            sink = json.load(f)
    return {
        "shard": index,
        "attempt": attempt,
        "seconds": round(time.monotonic() - started, 3),
        "complete": sink["complete"],
        "bytes": sink["metrics"]["bytes"],
        **summary(stderr),
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


def lake(args: list[str]) -> str:
    """The last --out among `generate`'s flags, or ""."""
    outs = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--out"]
    outs += [a.split("=", 1)[1] for a in args if a.startswith("--out=")]
    return outs[-1] if outs else ""


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
        if r.get("resumed"):
            retried += f", resumed: {r['resumed']}"
        lines.append(
            f"shard {r['shard']} of {shards}: done on attempt {r['attempt']}{retried}, "
            f"{r.get('events', '?')} events, {r.get('files', '?')} files, {r['bytes']} bytes, {r['seconds']} s"
        )
    events = sum(r.get("events", 0) for r in results)
    retries = sum(r["attempt"] - 1 for r in results)
    lines.append(f"fleet: {shards} shards, {events} events, {retries} retries")
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

        def test_switch(name: str) -> int | None:
            value = os.environ.get(name)
            return int(value) if value else None

        job = {"shards": a.shards, "binary": a.binary, "args": args, "env": env, "out": lake(args)}
        job |= {"crash": test_switch(CRASH), "fail": test_switch(FAIL)}
        sc = spark.sparkContext
        sc.setJobDescription(f"marketpulse fleet: {a.shards} shards")
        tasks = sc.parallelize(range(a.shards), a.shards)
        try:
            results = tasks.mapPartitionsWithIndex(lambda i, _: [run_shard(i, job)]).collect()
        except Exception as e:  # noqa: BLE001 - Spark wraps the task's error in a Py4J one
            raise FleetError(failed_shard(e)) from None
        incomplete = [r["shard"] for r in results if not r["complete"]]
        if incomplete:
            raise FleetError(f"shard(s) {incomplete} ended without a complete manifest")
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
