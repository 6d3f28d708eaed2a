#!/usr/bin/env python3
"""Bronze -> silver benchmark: records per second of the Spark job on local
Spark with 2 cores, on one day at scale 1 with every dirty-data knob at 1%.

Each run is a fresh process, as spark-submit would start it:
`python -m marketpulse_jobs.bronze_to_silver` with `local[2]`. The table
gives the job's own time (from its metrics record, without JVM start) and
the process wall time, medians of the runs, and what compaction did.
Writes results/silver.md. Usage:
load-tests/bench_silver.py [--runs N] [--formats parquet,jsonl]
(needs the release binary and the venv with the jobs wheel: make wheel).
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "release" / "marketpulse"
PYTHON = REPO / ".venv" / "bin" / "python"
JAVA17 = "/usr/lib/jvm/java-17-openjdk-amd64"
LAKE_FLAGS = ["--days", "1", "--threads", "2", "--config", str(REPO / "load-tests" / "dirty-all.toml")]


def job(lake: Path, out: Path) -> tuple[float, dict]:
    env = dict(os.environ, JAVA_HOME=JAVA17, PYSPARK_SUBMIT_ARGS="--master local[2] --driver-memory 4g pyspark-shell")
    cmd = [PYTHON, "-m", "marketpulse_jobs.bronze_to_silver", "--raw", lake, "--silver", out / "silver"]
    cmd += ["--quarantine", out / "quarantine", "--metrics", out / "metrics.json", "--run-id", "bench"]
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    return wall, json.loads((out / "metrics.json").read_text())


def silver_bytes(out: Path) -> dict[str, tuple[int, int]]:
    sizes = {}
    for table in sorted(p.name for p in (out / "silver").iterdir()):
        files = [p for p in (out / "silver" / table).rglob("*.parquet")]
        sizes[table] = (len(files), sum(p.stat().st_size for p in files))
    return sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--formats", default="parquet,jsonl")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats.split(","):
            lake = Path(tmp) / f"lake-{fmt}"
            subprocess.run([BIN, "generate", "--out", lake, "--quiet", "--format", fmt, *LAKE_FLAGS], check=True, capture_output=True)
            runs = []
            for _ in range(args.runs):
                out = Path(tmp) / "out"
                shutil.rmtree(out, ignore_errors=True)
                wall, metrics = job(lake, out)
                runs.append((wall, metrics))
            tables = runs[-1][1]["tables"]
            records = sum(t["rows_in"] for t in tables.values())
            job_s = statistics.median(m["duration_s"] for _, m in runs)
            wall_s = statistics.median(w for w, _ in runs)
            sizes = silver_bytes(out)
            rows.append((fmt, records, job_s, wall_s, runs, tables, sizes))
    write(rows, args.runs)


def write(rows, runs: int) -> None:
    lines = [
        "# Bronze -> silver",
        "",
        (
            f"Recorded {date.today()} on {platform.machine()}, {os.cpu_count()} cores, local Spark `local[2]`, "
            f"PySpark 3.5, Java 17; `load-tests/bench_silver.py --runs {runs}`."
        ),
        "Input: `marketpulse generate --days 1 --config load-tests/dirty-all.toml` (scale 1, every dirty knob at 1%).",
        "Job time is the job's own `duration_s` (from its metrics record); wall time adds the JVM and",
        "session start. Medians of the runs.",
        "",
        "| input | records in | job (s) | records/s (job) | wall (s) | records/s (wall) | job runs (s) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for fmt, records, job_s, wall_s, all_runs, _, _ in rows:
        each = ", ".join(f"{m['duration_s']:.1f}" for _, m in all_runs)
        lines.append(
            f"| {fmt} | {records:,} | {job_s:.1f} | {records / job_s:,.0f} | {wall_s:.1f} | {records / wall_s:,.0f} | {each} |"
        )
    lines += ["", "What each table did (last run):", ""]
    lines += ["| input | table | in | silver | quarantined | duplicates | late | files before → after | silver MB | bytes/row |"]
    lines += ["|---|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for fmt, _, _, _, _, tables, sizes in rows:
        for table, t in tables.items():
            _, size = sizes.get(table, (0, 0))
            per_row = size / t["silver_rows"] if t.get("silver_rows") else 0
            lines.append(
                f"| {fmt} | {table} | {t['rows_in']:,} | {t['silver_rows']:,} | {t['quarantined']:,} | "
                f"{t['duplicates_removed']:,} | {t['late_rows']:,} | {t['files_before']} → {t['files_after']} | "
                f"{size / 1e6:.1f} | {per_row:.0f} |"
            )
    lines += [
        "",
        "Bytes per row are what `ROW_BYTES` in `jobs/marketpulse_jobs/bronze_to_silver.py` turns the",
        "target file size (`--target-file-mb`, 128 by default) into rows per file with.",
        "",
    ]
    out = REPO / "load-tests" / "results" / "silver.md"
    out.write_text("\n".join(lines))
    print(out.read_text())


if __name__ == "__main__":
    main()
