#!/usr/bin/env python3
"""Reliability and raw-format benchmark: what a resume costs, and how fast
JSON lines and compressed text are written.

- Resume: a full run's wall time against `--resume` after the run was
  killed (SIGKILL) once 90% of its data files were in place.
- JSON lines: clicks to a local folder and to stdout (`--sink stdout` into
  /dev/null, so the disk is out of the picture), and compressed text.

Medians of several runs; writes results/reliability.md. Usage:
load-tests/bench_reliability.py [--runs N] [--baseline BIN --baseline-label TEXT]
(build first: cargo build --release). With --baseline, plain JSON lines to a
folder also run an older binary, alternating run by run.
"""

import argparse
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "release" / "marketpulse"

RESUME_FLAGS = ["--days", "7", "--threads", "2"]
KILL_AT = 0.9
CLICKS = ["--domains", "clicks", "--threads", "1"]
TEXT_SCENARIOS = [
    # name, flags, sink: folder or stdout
    ("jsonl, clicks, 1 day, scale 1, 1 thread, to a folder", [*CLICKS, "--format", "jsonl"], "folder"),
    ("jsonl, clicks, 1 day, scale 1, 1 thread, to stdout", [*CLICKS, "--format", "jsonl"], "stdout"),
    ("jsonl.gz, clicks, 1 day, scale 1, 1 thread, to a folder", [*CLICKS, "--format", "jsonl", "--compression", "gzip"], "folder"),
    ("jsonl.zst, clicks, 1 day, scale 1, 1 thread, to a folder", [*CLICKS, "--format", "jsonl", "--compression", "zstd"], "folder"),
    ("csv.zst, clicks, 1 day, scale 1, 1 thread, to a folder", [*CLICKS, "--format", "csv", "--compression", "zstd"], "folder"),
]


def timed(cmd):
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def cpu_seconds():
    """User and system CPU time of the finished children so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def data_files(out):
    return sum(1 for p in out.rglob("part-*") if not p.name.startswith("."))


def planned_files(flags):
    """Data files of the plan, from --dry-run."""
    out = subprocess.run([str(BIN), "generate", "--dry-run", *flags], capture_output=True, text=True, check=True).stdout
    total = next(line for line in out.splitlines() if line.startswith("total"))
    return int(total.split()[1].replace(",", ""))


def resume_once(planned):
    """(full run s, files when killed, resume s) in fresh folders."""
    full_dir = Path(tempfile.mkdtemp(prefix="mp-full-"))
    kill_dir = Path(tempfile.mkdtemp(prefix="mp-kill-"))
    try:
        full = timed([str(BIN), "generate", "--out", str(full_dir), "--quiet", *RESUME_FLAGS])
        proc = subprocess.Popen(
            [str(BIN), "generate", "--out", str(kill_dir), "--quiet", *RESUME_FLAGS],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 600
        while data_files(kill_dir) < KILL_AT * planned and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if proc.poll() is not None:
            raise SystemExit("the run ended before it could be killed at 90%")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        at_kill = data_files(kill_dir)
        resume = timed([str(BIN), "generate", "--out", str(kill_dir), "--quiet", "--resume", *RESUME_FLAGS])
        same = subprocess.run(["diff", "-r", "-x", "_manifests", str(full_dir), str(kill_dir)], check=False, capture_output=True)
        if same.returncode != 0:
            raise SystemExit("the resumed lake differs from the full run")
        return full, at_kill, resume
    finally:
        shutil.rmtree(full_dir, ignore_errors=True)
        shutil.rmtree(kill_dir, ignore_errors=True)


def text_once(binary, flags, sink):
    """(wall s, CPU s, events) of one run."""
    out = Path(tempfile.mkdtemp(prefix="mp-text-"))
    try:
        cmd = [str(binary), "generate", "--out", str(out), *flags]
        if sink == "stdout":
            cmd += ["--sink", "stdout"]
        with open(os.devnull, "wb") as null:
            t0, c0 = time.monotonic(), cpu_seconds()
            p = subprocess.run(cmd, stdout=null, stderr=subprocess.PIPE, text=True, check=True, cwd=REPO)
            wall, cpu = time.monotonic() - t0, cpu_seconds() - c0
        return wall, cpu, int(re.search(r"^clicks\s+(\d+)", p.stderr, re.MULTILINE).group(1))
    finally:
        shutil.rmtree(out, ignore_errors=True)


# perf symbols by part of the work, for the CPU breakdown.
PARTS = [
    ("SHA-256 of the bytes (manifest)", ("sha2",)),
    ("JSON-lines writer", ("encode::jsonl", "itoa", "ryu")),
    ("memory copies (writer's strings, output buffers)", ("memmove", "memcpy")),
    ("generation (world, sessions, Arrow arrays)", ("marketpulse_gen", "rand", "arrow")),
    ("allocator", ("malloc", "free", "unlink_chunk", "malloc_consolidate")),
]


def cpu_breakdown(flags):
    """Share of CPU samples per part of the work, from `perf record` of one
    run to stdout, or None without perf."""
    if shutil.which("perf") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="mp-perf-") as tmp:
        data = Path(tmp) / "perf.data"
        with open(os.devnull, "wb") as null:
            subprocess.run(
                ["perf", "record", "-q", "-o", str(data), str(BIN), "generate", "--out", str(Path(tmp) / "m"), *flags, "--sink", "stdout"],
                stdout=null, stderr=null, check=True,
            )
        report = subprocess.run(
            ["perf", "report", "-i", str(data), "--no-children", "--sort", "symbol", "--stdio", "-g", "none"],
            capture_output=True, text=True, check=True,
        ).stdout
    shares = dict.fromkeys([name for name, _ in PARTS] + ["other"], 0.0)
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+\[[.k]\]\s+(.*)", line)
        if not m:
            continue
        share, symbol = float(m.group(1)), m.group(2)
        part = next((name for name, keys in PARTS if any(k in symbol for k in keys)), "other")
        shares[part] += share
    return shares


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", type=Path, help="an older marketpulse binary for the plain JSON-lines rows")
    ap.add_argument("--baseline-label", default="baseline")
    args = ap.parse_args()
    if not BIN.exists():
        raise SystemExit(f"{BIN} is missing: run cargo build --release first")

    planned = planned_files(RESUME_FLAGS)
    resumes = [resume_once(planned) for _ in range(args.runs)]
    full = statistics.median(r[0] for r in resumes)
    resume = statistics.median(r[2] for r in resumes)
    print(f"resume: full {full:.2f} s, resume after 90% {resume:.2f} s ({resume / full:.0%})")

    text_rows = []
    for name, flags, sink in TEXT_SCENARIOS:
        # The older binary writes plain text to folders only.
        plain = "--compression" not in flags and sink == "folder"
        after, before = [], []
        for _ in range(args.runs):
            if args.baseline and plain:
                before.append(text_once(args.baseline, flags, sink))
            after.append(text_once(BIN, flags, sink))
        wall = statistics.median(r[0] for r in after)
        cpu = statistics.median(r[1] for r in after)
        events = after[0][2]
        b = statistics.median(r[0] for r in before) if before else None
        text_rows.append((name, flags, sink, events, wall, cpu, [r[0] for r in after], b))
        print(f"{name}: {wall:.2f} s, {events / wall:,.0f} events/s, {cpu:.2f} CPU s" + (f" (before {b:.2f} s)" if b else ""))

    plain_flags = [*CLICKS, "--format", "jsonl"]
    shares = cpu_breakdown(plain_flags)
    cpu_stdout = next(r[5] for r in text_rows if r[2] == "stdout")
    events = text_rows[0][3]

    cmd = " ".join(RESUME_FLAGS)
    lines = [
        "# Reliability and raw formats",
        "",
        (f"Recorded {date.today()} on {platform.machine()}, {subprocess.getoutput('nproc')} cores, "
         f"by `load-tests/bench_reliability.py --runs {args.runs}"
         + (f" --baseline {args.baseline_label}" if args.baseline else "") + "` after `cargo build --release`."),
        "Wall times are medians over the runs, of the whole process including start-up; every run is listed.",
        "",
        "## Resume",
        "",
        f"`marketpulse generate --out DIR {cmd}` ({planned} data files) runs once to the end; another run is",
        f"killed with SIGKILL once {KILL_AT:.0%} of its data files are in place, then `--resume` finishes it, and",
        "the two lakes are compared byte for byte (they are equal in every run). Target: the resume costs under",
        "30% of the full run.",
        "",
        "| full run, median (s) | resume after 90%, median (s) | resume / full | files at the kill | full runs (s) | resumes (s) |",
        "|---:|---:|---:|---|---|---|",
        (f"| {full:.2f} | {resume:.2f} | {resume / full:.0%} | {', '.join(str(r[1]) for r in resumes)} "
         f"| {', '.join(f'{r[0]:.2f}' for r in resumes)} | {', '.join(f'{r[2]:.2f}' for r in resumes)} |"),
        "",
        "## JSON lines and compressed text",
        "",
        "Clicks of one day at scale 1 on one generator thread. \"to stdout\" is `--sink stdout` into /dev/null:",
        "generation and encoding without the disk. \"to a folder\" adds the kernel's page-cache writes. Target:",
        "at least 2,500,000 events/s per core for plain JSON lines. CPU is user + system time of the process",
        "(the generator thread, the thread that hashes and writes, the kernel's copies), so events per CPU",
        "second is the rate per core.",
        "",
        "| scenario | command | events | median wall (s) | events/s | median CPU (s) | events per CPU s | runs (s) |"
        + (" before: median (s) | before: events/s |" if args.baseline else ""),
        "|---|---|---:|---:|---:|---:|---:|---|" + ("---:|---:|" if args.baseline else ""),
    ]
    for name, flags, sink, events, wall, cpu, walls, b in text_rows:
        command = "marketpulse generate " + " ".join(flags) + (" --sink stdout > /dev/null" if sink == "stdout" else "")
        row = (f"| {name} | `{command}` | {events:,} | {wall:.2f} | {events / wall:,.0f} | {cpu:.2f} | {events / cpu:,.0f} "
               f"| {', '.join(f'{w:.2f}' for w in walls)} |")
        if args.baseline:
            row += f" {b:.2f} | {events / b:,.0f} |" if b else " | |"
        lines.append(row)
    if shares:
        writer = shares["JSON-lines writer"] / 100 * cpu_stdout
        lines += [
            "",
            "Where the CPU of the \"to stdout\" run goes, by `perf record` samples (`perf record marketpulse generate "
            + " ".join(plain_flags) + " --sink stdout`, `perf report --no-children --sort symbol`); seconds are the",
            "share times that row's median CPU time.",
            "",
            "| part | share of samples | CPU (s) |",
            "|---|---:|---:|",
        ]
        for name, share in shares.items():
            lines.append(f"| {name} | {share:.1f}% | {share / 100 * cpu_stdout:.2f} |")
        lines += [
            "",
            (f"The writer alone runs at {events / writer:,.0f} events per CPU second "
            f"({events / (writer + shares[PARTS[2][0]] / 100 * cpu_stdout):,.0f} counting every memory copy as its own)."),
        ]
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "reliability.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {results / 'reliability.md'}")


if __name__ == "__main__":
    main()
