#!/usr/bin/env python3
"""Rate profiles in real time: does each segment reach its rate, and does a
fleet's total rate hold?

1. One process, `--rate-profile PROFILE` to stdout: the events that arrive in
   each second, per segment the achieved rate against the target (the
   segment's events over its seconds), and whether the ramp rises every second.
2. Four shards at `--rate 20000` in total, to stdout, side by side: the summed
   rate over the seconds all four were sending, and the union of their event
   ids against one process's ids at the same rate.

Arrivals are stamped as the lines reach this script (a pipe per process, read
in a thread each). Writes results/rate-profile.md.
Usage: load-tests/bench_rate_profile.py [--runs N] (after cargo build --release).
"""

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "release" / "marketpulse"
PROFILE = "ramp:1000..20000/20s,hold:20000/20s,spike:50000/5s,hold:5000/10s"
SEGMENTS = [("ramp 1,000..20,000/20s", 20, 1000, 20000), ("hold 20,000/20s", 20, 20000, 20000), ("spike 50,000/5s", 5, 50000, 50000), ("hold 5,000/10s", 10, 5000, 5000)]
BASE = ["generate", "--mode", "realtime", "--sink", "stdout", "--quiet", "--domains", "clicks", "--days", "1"]


def stream(args, out, stamps, ids):
    """Runs one process; appends (arrival time, lines) per read and the ids."""
    with subprocess.Popen([BIN, *BASE, "--out", out, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as p:
        rest = b""
        while chunk := p.stdout.read1(1 << 16):
            now = time.monotonic()
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            stamps.append((now, len(lines)))
            if ids is not None:
                ids.extend(json.loads(line)["event_id"] for line in lines)
        err = p.stderr.read().decode()
        if p.wait() != 0:
            raise SystemExit(f"marketpulse failed: {err}")


def per_second(stamps, t0):
    counts = {}
    for t, n in stamps:
        s = int(t - t0)
        counts[s] = counts.get(s, 0) + n
    last = max(counts) if counts else -1
    return [counts.get(s, 0) for s in range(last + 1)]


def profile_run():
    with tempfile.TemporaryDirectory(prefix="mp-profile-") as tmp:
        stamps = []
        stream(["--scale", "1", "--rate-profile", PROFILE], tmp, stamps, None)
    t0 = stamps[0][0]
    seconds = per_second(stamps, t0)
    rows, start = [], 0
    for name, length, a, b in SEGMENTS:
        target = (a + b) / 2
        got = sum(seconds[start:start + length]) / length
        rows.append((name, target, got, seconds[start:start + length]))
        start += length
    ramp = rows[0][3]
    return rows, all(y > x for x, y in itertools.pairwise(ramp))


def fleet_run(scale):
    """4 shards and then one process, each at 20,000 events/s in total."""
    with tempfile.TemporaryDirectory(prefix="mp-fleet-") as tmp:
        stamps = [[] for _ in range(4)]
        ids = [[] for _ in range(4)]
        threads = [threading.Thread(target=stream, args=(["--scale", scale, "--rate", "20000", "--shard-count", "4", "--shard-index", str(i)], tmp, stamps[i], ids[i])) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    with tempfile.TemporaryDirectory(prefix="mp-one-") as tmp:
        one_ids = []
        stream(["--scale", scale, "--rate", "20000"], tmp, [], one_ids)
    # The seconds all four were sending, first and last partial ones left out.
    start = max(s[0][0] for s in stamps)
    end = min(s[-1][0] for s in stamps)
    total = sum(n for s in stamps for t, n in s if start + 1 <= t < end - 1)
    rate = total / (end - start - 2)
    union = sorted(i for s in ids for i in s)
    return rate, union == sorted(one_ids), len(union), end - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "load-tests" / "results" / "rate-profile.md")
    a = ap.parse_args()
    profiles = [profile_run() for _ in range(a.runs)]
    fleets = [fleet_run("0.04") for _ in range(a.runs)]
    lines = [
        "# Rate profiles and a fleet's total rate",
        "",
        (
            f"Recorded {date.today()} on {platform.machine()}, {len(os.sched_getaffinity(0))} cores, by "
            f"`load-tests/bench_rate_profile.py --runs {a.runs}` after `cargo build --release`. Events go to stdout and are"
        ),
        "counted as they reach the benchmark, per second from the first; targets are each segment's events over its seconds.",
        "",
        f"One process, `marketpulse generate --mode realtime --sink stdout --domains clicks --scale 1 --rate-profile {PROFILE}`:",
        "",
        "| segment | target (events/s) | achieved, median of runs (events/s) | off target | all runs (events/s) |",
        "|---|---:|---:|---:|---|",
    ]
    for k, (name, target, _, _) in enumerate(profiles[0][0]):
        got = [p[0][k][2] for p in profiles]
        med = statistics.median(got)
        lines.append(f"| {name} | {target:,.0f} | {med:,.0f} | {(med / target - 1) * 100:+.2f}% | {', '.join(f'{g:,.0f}' for g in got)} |")
    ramps = [p[1] for p in profiles]
    lines += [
        "",
        f"The ramp rose every second in {sum(ramps)} of {len(ramps)} runs. Per second, first run: "
        + ", ".join(str(n) for n in profiles[0][0][0][3]) + ".",
        "",
        "Four shards side by side, `--rate 20000 --shard-count 4 --shard-index i --scale 0.04` (each paces at its share of",
        "the plan's events), then one process at `--rate 20000`; the summed rate is over the seconds all four were sending:",
        "",
        "| run | summed rate (events/s) | off 20,000 | seconds | events | union of shard ids = one process's ids |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for i, (rate, same, n, secs) in enumerate(fleets, 1):
        lines.append(f"| {i} | {rate:,.0f} | {(rate / 20000 - 1) * 100:+.2f}% | {secs:.1f} | {n:,} | {'yes' if same else 'NO'} |")
    a.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
