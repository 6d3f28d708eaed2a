#!/usr/bin/env python3
"""Producer-core benchmark: throughput, wall time and peak RSS of `marketpulse generate`.

Runs each scenario several times with /usr/bin/time -v, takes medians, and
writes results/producer-core.md. Usage: load-tests/bench_producer.py [--runs N]
[--baseline BIN --baseline-label TEXT] (build first: cargo build --release).

With --baseline, every scenario also runs an older binary, alternating run by
run with the current one, and the report gains a before/after table.
"""

import argparse
import json
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "release" / "marketpulse"

DIRTY = ["--config", "load-tests/dirty-all.toml"]  # every dirty-data knob at 1%
SCENARIOS = [
    # name, generate flags, what the target bounds
    ("clicks, 1 day, scale 1, zstd, 1 thread", ["--domains", "clicks", "--threads", "1"], ">= 2,000,000 events/s"),
    ("clicks, 1 day, scale 1, zstd, 2 threads", ["--domains", "clicks", "--threads", "2"], ">= 3,500,000 events/s"),
    ("all domains, 1 day, scale 1, 2 threads", ["--threads", "2"], "<= 3 s wall"),
    ("dirty: clicks, 1 day, scale 1, zstd, 1 thread", ["--domains", "clicks", "--threads", "1", *DIRTY], ">= 2,000,000 events/s"),
    ("dirty: clicks, 1 day, scale 1, zstd, 2 threads", ["--domains", "clicks", "--threads", "2", *DIRTY], ">= 3,500,000 events/s"),
    ("dirty: all domains, 1 day, scale 1, 2 threads", ["--threads", "2", *DIRTY], "<= 3 s wall"),
]
RSS_DAYS = [1, 7, 30]


def run_once(flags, binary=BIN):
    out = Path(tempfile.mkdtemp(prefix="mp-bench-"))
    try:
        cmd = ["/usr/bin/time", "-v", str(binary), "generate", "--out", str(out), *flags]
        p = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
        wall = parse_wall(re.search(r"Elapsed \(wall clock\) time.*: (.+)", p.stderr).group(1))
        rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
        (manifest,) = (out / "_manifests").glob("*-shard-*.json")
        files = json.loads(manifest.read_text())["files"]
        # Truth sidecars list defects; they are not events.
        events = sum(f["rows"] for f in files if f["domain"] != "truth")
        return wall, rss_kb, events, {f["path"]: f["sha256"] for f in files}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def parse_wall(text):
    parts = [float(x) for x in text.strip().split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", type=Path, help="an older marketpulse binary to compare against")
    ap.add_argument("--baseline-label", default="baseline", help="what the older binary is, for the report")
    args = ap.parse_args()
    if not BIN.exists():
        raise SystemExit(f"{BIN} is missing: run cargo build --release first")
    rows = []
    compared = []
    for name, flags, target in SCENARIOS:
        results, before = [], []
        for _ in range(args.runs):
            if args.baseline:
                before.append(run_once(flags, args.baseline))
            results.append(run_once(flags))
        if before:
            assert before[0][3] == results[0][3], f"{name}: the binaries made different bytes"
            compared.append((name, [r[0] for r in before], [r[0] for r in results]))
        walls = [r[0] for r in results]
        wall = statistics.median(walls)
        events = results[0][2]
        rss = max(r[1] for r in results) / 1024
        rows.append((name, "marketpulse generate " + " ".join(flags), target, events, wall, events / wall, rss, walls))
        print(f"{name}: median {wall:.2f} s, {events / wall:,.0f} events/s, peak RSS {rss:.0f} MiB")
    rss_rows = []
    for days in RSS_DAYS:
        flags = ["--threads", "2", "--days", str(days)]
        wall, rss_kb, events, _ = run_once(flags)
        rss_rows.append((days, "marketpulse generate " + " ".join(flags), events, wall, rss_kb / 1024))
        print(f"{days} days: {rss_kb / 1024:.0f} MiB peak RSS")

    lines = [
        "# Producer benchmark",
        "",
        (f"Recorded {date.today()} on {platform.machine()}, {subprocess.getoutput('nproc')} cores, "
        f"by `load-tests/bench_producer.py --runs {args.runs}` after `cargo build --release`."),
        "Each row is the median wall time of the runs (wall clock of the whole process, including start-up),",
        "events divided by that median; peak RSS is the largest of the runs. Output goes to a local temp folder.",
        "Events include seasonality (scale 1 is at least 5,000,000 clicks a day) and, in dirty rows,",
        "the injected copies; `load-tests/dirty-all.toml` turns every dirty-data knob on at 1%.",
        "",
        "| scenario | command | target | events | median wall (s) | events/s | peak RSS (MiB) | all runs (s) |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for name, cmd, target, events, wall, rate, rss, walls in rows:
        runs = ", ".join(f"{w:.2f}" for w in walls)
        lines.append(f"| {name} | `{cmd}` | {target} | {events:,} | {wall:.2f} | {rate:,.0f} | {rss:.0f} | {runs} |")
    lines += [
        "",
        "Peak RSS against run length (target: at most 256 MiB for any number of days):",
        "",
        "| days | command | events | wall (s) | peak RSS (MiB) |",
        "|---:|---|---:|---:|---:|",
    ]
    for days, cmd, events, wall, rss in rss_rows:
        lines.append(f"| {days} | `{cmd}` | {events:,} | {wall:.2f} | {rss:.0f} |")
    if compared:
        lines += [
            "",
            f"Before and after, in the same run: `{args.baseline_label}` against the current build, alternating",
            f"run by run ({args.runs} runs each). Both binaries write the same files, byte for byte (every",
            "file's SHA-256 from the manifests, checked per scenario).",
            "",
            "| scenario | before: median wall (s) | after: median wall (s) | after / before | before runs (s) | after runs (s) |",
            "|---|---:|---:|---:|---|---|",
        ]
        for name, b, a in compared:
            mb, ma = statistics.median(b), statistics.median(a)
            runs = lambda xs: ", ".join(f"{x:.2f}" for x in xs)
            lines.append(f"| {name} | {mb:.2f} | {ma:.2f} | {ma / mb:.2f} | {runs(b)} | {runs(a)} |")
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "producer-core.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {results / 'producer-core.md'}")


if __name__ == "__main__":
    main()
