#!/usr/bin/env python3
"""BI queries on the Redshift stand-in: each query of jobs/redshift/sql/queries
on the marts of one week at scale 1 (the target: under 3 s each).

The marts are loaded by the real COPY file from gold Parquet. Gold here is
computed by marketpulse_testkit.reference (DuckDB straight from a clean lake),
which the test suite proves equal to the Spark job's gold, so the benchmark
needs no hour of local Spark. Each query runs --runs times after one warm-up;
the table gives the median and the slowest run. Writes results/redshift.md.
Usage: load-tests/bench_redshift.py [--runs N] [--scale S] [--days D]
(needs the release binary and the venv with the jobs wheel: make wheel).
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

from marketpulse_jobs.utils import gold_schemas
from marketpulse_local.redshift import RedshiftLocal
from marketpulse_testkit import reference

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "release" / "marketpulse"

SQL = REPO / "jobs" / "redshift" / "sql"


def write_gold(con, gold: Path) -> dict[str, int]:
    """Gold as the job lays it out: dt= folders, schema columns in order."""
    rows = {}
    for table, schema in gold_schemas().items():
        cols = ", ".join(schema.names)
        query = f"SELECT * FROM ({reference.GOLD[table]}) AS t({cols})"
        (gold / table).mkdir(parents=True)
        if schema.partitioned_by:
            query = f"SELECT *, strftime({schema.partitioned_by}, '%Y-%m-%d') AS dt FROM ({query})"
            target = f"'{gold / table}' (FORMAT PARQUET, PARTITION_BY (dt), OVERWRITE_OR_IGNORE)"
        else:
            target = f"'{gold / table / 'part-0.parquet'}' (FORMAT PARQUET)"
        con.execute(f"COPY ({query}) TO {target}")
        rows[table] = con.execute(f"SELECT count(*) FROM ({reference.GOLD[table]})").fetchone()[0]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--start", default="2025-11-24")
    ap.add_argument("--out", default=str(REPO / "load-tests" / "results" / "redshift.md"))
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-redshift-"))
    try:
        lake = work / "lake"
        flags = ["--scale", str(a.scale), "--days", str(a.days), "--start", a.start, "--clicks-v2-from", a.start]
        t0 = time.monotonic()
        subprocess.run([BIN, "generate", "--out", lake, "--quiet", *flags], check=True, stdout=subprocess.DEVNULL)
        generate_s = time.monotonic() - t0
        t0 = time.monotonic()
        rows = write_gold(reference.connect(lake), work / "gold")
        gold_s = time.monotonic() - t0
        rs = RedshiftLocal(
            str(work / "warehouse.duckdb"),
            params={"gold_uri": str(work / "gold"), "iam_role": "arn:aws:iam::123456789012:role/bench",
                    "glue_gold_database": "gold"},
            catalog={"gold": str(work / "gold")},
        )  # fmt: skip
        rs.run_file(SQL / "ddl" / "marts.sql")
        t0 = time.monotonic()
        rs.run_file(SQL / "load" / "copy_marts.sql")
        copy_s = time.monotonic() - t0
        rs.run_file(SQL / "serve" / "external_schema.sql")
        results = []
        for path in sorted((SQL / "queries").glob("*.sql")):
            text = path.read_text()
            _, answer = rs.query(text)  # warm-up
            times = []
            for _ in range(a.runs):
                t0 = time.monotonic()
                rs.query(text)
                times.append(time.monotonic() - t0)
            results.append((path.stem, len(answer), statistics.median(times), max(times)))
            print(f"{path.stem}: median {statistics.median(times):.3f} s, max {max(times):.3f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    cmd = f"load-tests/bench_redshift.py --runs {a.runs} --scale {a.scale:g} --days {a.days} --start {a.start}"
    lines = [
        "# BI queries on the Redshift stand-in",
        "",
        (f"Command: `{cmd}` (after `make wheel` and `cargo build --release`), {date.today()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, DuckDB in one process."),
        "",
        (f"Data: {a.days} days from {a.start} at scale {a.scale:g}, clean; generated in {generate_s:.0f} s; "
        f"gold computed by `marketpulse_testkit.reference` in {gold_s:.0f} s (which the tests prove equal to "
        f"the Spark job's gold); marts loaded by `load/copy_marts.sql` in {copy_s:.1f} s:"),
        "",
        "| mart | rows |",
        "|---|---:|",
        *[f"| {t} | {n:,} |" for t, n in rows.items()],
        "",
        f"Each query ran once to warm up, then {a.runs} times. Target: under 3 s.",
        "",
        "| query | result rows | median s | slowest s |",
        "|---|---:|---:|---:|",
        *[f"| {name} | {n} | {med:.3f} | {worst:.3f} |" for name, n, med, worst in results],
        "",
        ("What this does not show: Redshift's own speed (slices, zone maps on the sort keys, WLM), "
        "see docs/decisions/ADR-008-redshift-stand-in.md."),
    ]
    Path(a.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
