#!/usr/bin/env python3
"""Writes the measured parts of the docs from the recorded results, so they
never drift from them:

- docs/capacity.md: the reference calibration's table (from
  results/calibration.json) and the worked examples (`marketpulse plan`'s
  output, run now with the release build);
- README.md: the peers table (from results/peers.json).

Each part sits between `<!-- name: ... -->` and `<!-- /name -->` markers.
Usage: load-tests/write_docs.py (after cargo build --release).
"""

import json
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "release" / "marketpulse"
RESULTS = REPO / "load-tests" / "results"
EXAMPLES = [
    ("A dev environment: 5 million events a day", ["--events-per-day", "5000000", "--days", "30"]),
    ("Production: a billion events a day, a 30-day backfill within 2 hours", ["--events-per-day", "1000000000", "--days", "30", "--backfill-hours", "2", "--spot"]),
    ("Real time: 100,000 events/s into Kinesis, in the week of Black Friday", ["--events-per-day", "8640000000", "--start", "2025-11-24", "--days", "7", "--sink", "kinesis", "--engine", "ecs"]),
]
SHOWN = [("parquet", "zstd"), ("jsonl", "none"), ("jsonl", "gzip"), ("csv", "none")]


def replace(text, name, body):
    pattern = re.compile(rf"(<!-- {name}:[^>]*-->\n).*?(<!-- /{name} -->)", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"no <!-- {name}: --> marker")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def calibration():
    c = json.loads((RESULTS / "calibration.json").read_text())
    lines = [
        f"The reference was made with `make calibrate` (`{c['command']}`, a {c['build']} build) on {c['cpu']},",
        f"{c['cores']} cores, {c['date']}: start-up {c['startup_seconds']:.3f} s, {c['parallel']['threads']} threads at",
        f"{c['parallel']['efficiency'] * 100:.0f}% efficiency, {c['rss']['base_mib']:.0f} MiB + {c['rss']['per_thread_mib']:.0f} MiB per thread. Some of its 40 entries:",
        "",
        "| table | format/codec | rows/s of a worker | s per file | CPU per wall second | bytes per row | bytes per file |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for e in c["tables"]:
        if (e["format"], e["compression"]) in SHOWN and e["domain"] != "stores":
            lines.append(
                f"| {e['domain']} | {e['format']}/{e['compression']} | {e['events_per_core_second']:,.0f} | {e['seconds_per_file']:g}"
                f" | {e['cpu_per_wall']:g} | {e['bytes_per_event']:g} | {e['bytes_per_file']:,.0f} |"
            )
    lines += [
        "",
        "A per-file cost of 0 means the two points could not tell it from the rows (as many files at both",
        "scales, or a fit below zero): it is then all on the rows.",
    ]
    return "\n".join(lines)


def examples():
    out = ["Default calibration and prices: the reference machine's speeds and sizes.", ""]
    for title, args in EXAMPLES:
        plan = subprocess.run([BIN, "plan", *args], capture_output=True, text=True, check=True).stdout
        out += [f"### {title}", "", f"`marketpulse plan {' '.join(args)}`", "", "```", plan.rstrip(), "```", ""]
    return "\n".join(out).rstrip()


def peers():
    d = json.loads((RESULTS / "peers.json").read_text())
    lines = [
        f"Beside its peers, one core each ({d['date'][:10]}, {d['machine']['cores']}-core {d['machine']['cpu']}, median of {d['runs']} runs;",
        "[`load-tests/results/peers.md`](load-tests/results/peers.md) has every run and command, `make peers` makes it):",
        "",
        "| tool | generates | rows/s per core | MB/s per core | bytes per row |",
        "|---|---|---:|---:|---:|",
    ]
    for p in d["peers"]:
        lines.append(f"| {p['tool']} {p['version']} | {p['what']} | {p['rows_per_s_core']:,.0f} | {p['mb_per_s_core']:.2f} | {p['bytes'] / p['rows']:.1f} |")
    lines += [
        "",
        "Charts: [rows/s and MB/s per core](load-tests/results/peers.png),",
        "[events/s against threads](load-tests/results/scaling-threads.png),",
        "[events/s against shard processes](load-tests/results/scaling-shards.png),",
        "[peak RSS against days](load-tests/results/rss-days.png).",
    ]
    return "\n".join(lines)


def main():
    doc = REPO / "docs" / "capacity.md"
    text = replace(doc.read_text(), "calibration", calibration())
    doc.write_text(replace(text, "examples", examples()))
    readme = REPO / "README.md"
    readme.write_text(replace(readme.read_text(), "peers", peers()))


if __name__ == "__main__":
    main()
