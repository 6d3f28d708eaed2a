#!/usr/bin/env python3
"""MarketPulse beside its peers, and its own scaling curves, in one run.

Peers (each on one thread, median of --runs):
  tpchgen-cli  TPC-H lineitem at --tpch-scale to one Parquet file, ZSTD(1)
  Faker        clicks-like rows (the producer's clicks v1 columns), batches
               written with pyarrow to one Parquet file, ZSTD level 1
  mimesis      the same rows, the same writer
  marketpulse  generate --domains clicks --threads 1 --days 1 --scale S

Scaling (marketpulse only):
  events/s against --threads 1..cores
  events/s against shard processes 1, 2, 4 (--shard-index i --shard-count N,
  started together into one folder; total events / wall of the slowest)
  peak RSS against --days 1, 2, 4, 8

Each measured command runs as a child process: wall clock from just before
the start to its exit, CPU seconds (user + system) from os.wait4, peak RSS
from /usr/bin/time -f %M (see measure()). Writes peers.md, peers.json, peers.png, scaling-threads.png,
scaling-shards.png and rss-days.png into --results.

Set up and usage: load-tests/peers/README.md. Smoke test:
  load-tests/peers/.venv/bin/python load-tests/peers/run.py --quick --results /tmp/peers-smoke
"""

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RELEASE_BIN = REPO / "target" / "release" / "marketpulse"
DEBUG_BIN = REPO / "target" / "debug" / "marketpulse"
TIME = Path("/usr/bin/time")

FULL = {"runs": 3, "rows": 200_000, "tpch_scale": "1", "scale": "1"}
QUICK = {"runs": 1, "rows": 2_000, "tpch_scale": "0.01", "scale": "0.01"}
SHARDS = [1, 2, 4]
DAYS = [1, 2, 4, 8]
SECTIONS = ["peers", "threads", "shards", "rss"]
MB = 1e6


# ---------------------------------------------------------------- measuring


def measure(cmds, cwd=None, env=None, log_dir=None):
    """Start every command at once, wait for all; wall, CPU and peak RSS.

    Wall: from just before the first start to the last exit. CPU: user +
    system from os.wait4, summed over the processes (wait4 includes what a
    child reaped). Peak RSS: the largest process's. A child forked from this
    (large) Python process inherits its RSS high-water mark across exec, so
    ru_maxrss from wait4 would read at least this process's size; each command
    therefore runs under `/usr/bin/time -f %M`, which forks it from a small
    process and reports its true ru_maxrss (KiB). Output goes to files in
    log_dir (no pipes to fill up).
    """
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="peers-log-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    rss_files = [log_dir / f"{i}.rss" for i in range(len(cmds))]
    if TIME.exists():
        cmds = [[str(TIME), "-f", "%M", "-o", str(f), *cmd] for f, cmd in zip(rss_files, cmds)]
    cpu, rss_kib, codes = 0.0, 0, []
    with ExitStack() as files:
        logs = [(files.enter_context(open(log_dir / f"{i}.stdout", "wb")),
                 files.enter_context(open(log_dir / f"{i}.stderr", "wb"))) for i in range(len(cmds))]
        start = time.perf_counter()
        procs = [subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
                 for cmd, (out, err) in zip(cmds, logs)]
        for p in procs:
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            cpu += ru.ru_utime + ru.ru_stime
            rss_kib = max(rss_kib, ru.ru_maxrss)  # an upper bound, used without /usr/bin/time
            codes.append(p.returncode)
        wall = time.perf_counter() - start
    if TIME.exists():
        rss_kib = max(int(f.read_text().split()[-1]) for f in rss_files)
    stdout = [(log_dir / f"{i}.stdout").read_text(errors="replace") for i in range(len(cmds))]
    stderr = [(log_dir / f"{i}.stderr").read_text(errors="replace") for i in range(len(cmds))]
    for cmd, code, text in zip(cmds, codes, stderr):
        if code != 0:
            raise SystemExit(f"failed with exit code {code}: {' '.join(map(str, cmd))}\n{text[-2000:]}")
    return {"wall": wall, "cpu": cpu, "rss_mib": rss_kib / 1024, "stdout": stdout, "stderr": stderr}


def parquet_files(folder):
    return sorted(p for p in Path(folder).rglob("*.parquet") if "_manifests" not in p.parts)


def parquet_rows_bytes(folder):
    import pyarrow.parquet as pq

    files = parquet_files(folder)
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return rows, sum(f.stat().st_size for f in files), len(files)


def marketpulse_rows(folder):
    """Events from the shard manifests (truth sidecars list defects, not events)."""
    manifests = sorted((Path(folder) / "_manifests").glob("*-shard-*.json"))
    if not manifests:
        raise SystemExit(f"no shard manifest in {folder}/_manifests")
    return sum(
        f["rows"]
        for m in manifests
        for f in json.loads(m.read_text())["files"]
        if f["domain"] != "truth"
    )


def repeat(runs, scratch, make_cmds, count, cwd=None, env=None):
    """Run make_cmds(out) `runs` times into a fresh folder; medians and every run."""
    results = []
    for _ in range(runs):
        out = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
        try:
            m = measure(make_cmds(out), cwd=cwd, env=env, log_dir=out.with_suffix(".log"))
            rows, nbytes, files = count(out)
            results.append({"wall": m["wall"], "cpu": m["cpu"], "rss_mib": m["rss_mib"],
                            "rows": rows, "bytes": nbytes, "files": files})
        finally:
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(out.with_suffix(".log"), ignore_errors=True)
    rows = {r["rows"] for r in results}
    if len(rows) != 1:
        print(f"  warning: row counts differ between runs: {sorted(rows)}", file=sys.stderr)
    return {
        "rows": results[0]["rows"],
        "bytes": results[0]["bytes"],
        "files": results[0]["files"],
        "wall": statistics.median(r["wall"] for r in results),
        "cpu": statistics.median(r["cpu"] for r in results),
        "rss_mib": max(r["rss_mib"] for r in results),
        "runs": results,
    }


# ------------------------------------------------------- clicks-like rows


def clicks_schema():
    import pyarrow as pa

    # The columns `marketpulse generate --domains clicks` writes by default
    # (schemas/clicks.v1.json): the same names, types and nullability.
    return pa.schema([
        pa.field("event_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64()),
        pa.field("session_id", pa.int64(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("page", pa.string(), nullable=False),
        pa.field("referrer", pa.string()),
        pa.field("utm_source", pa.string()),
        pa.field("utm_medium", pa.string()),
        pa.field("utm_campaign", pa.string()),
        pa.field("utm_term", pa.string()),
        pa.field("utm_content", pa.string()),
    ])


DAY_START_US = 1_736_121_600_000_000  # 2025-01-06T00:00:00Z, the producer's default start
DAY_US = 86_400_000_000
PAGE_KINDS = ("home", "category", "category", "product", "product", "product", "cart", "checkout")
SOURCES = ("google", "bing", "newsletter", "facebook", "instagram", "tiktok", "dealsblog")
MEDIUMS = ("cpc", "email", "social", "affiliate")
CONTENTS = ("text_ad_1", "text_ad_2", "header_banner", "sidebar", "story_1", "carousel_1", "video_1")


class FakerLib:
    """Faker's own providers; one call per value."""

    def __init__(self, seed):
        from faker import Faker

        Faker.seed(seed)
        self.f = Faker("en_US")
        self.start = datetime.fromtimestamp(DAY_START_US / 1e6, UTC)
        self.end = datetime.fromtimestamp((DAY_START_US + DAY_US) / 1e6, UTC)

    def integer(self, lo, hi):
        return self.f.random_int(lo, hi)

    def chance(self, percent):
        return self.f.boolean(chance_of_getting_true=percent)

    def choice(self, items):
        return self.f.random_element(items)

    def instant_us(self):
        return int(self.f.unix_time(start_datetime=self.start, end_datetime=self.end) * 1e6)

    def word(self):
        return self.f.word()

    def words(self, n):
        return " ".join(self.f.words(nb=n))

    def url(self):
        return self.f.url()

    def slug(self):
        return self.f.slug()

    def sku(self):
        return self.f.numerify("SKU-#######")


class MimesisLib:
    """mimesis providers; one call per value."""

    def __init__(self, seed):
        from mimesis import Choice, Internet, Numeric, Text
        from mimesis.locales import Locale

        self.num = Numeric(seed=seed)
        self.choose = Choice(seed=seed)
        self.text = Text(Locale.EN, seed=seed)
        self.net = Internet(seed=seed)

    def integer(self, lo, hi):
        return self.num.integer_number(lo, hi)

    def chance(self, percent):
        return self.num.integer_number(0, 99) < percent

    def choice(self, items):
        return self.choose(items)

    def instant_us(self):
        return DAY_START_US + self.num.integer_number(0, DAY_US - 1)

    def word(self):
        return self.text.word()

    def words(self, n):
        return " ".join(self.text.words(quantity=n))

    def url(self):
        return self.net.url()

    def slug(self):
        return self.net.slug()

    def sku(self):
        return f"SKU-{self.num.integer_number(0, 9_999_999):07d}"


def clicks_rows(lib, n):
    """Yield n clicks-like rows in sessions, the same logic for every library.

    A session is 1-12 page views of one user, 1-120 s apart; 55% of sessions
    have an external referrer, 30% carry campaign fields (a search term only
    for cpc).
    """
    event_id, left = 0, 0
    session = user = ts = referrer = None
    utm = (None, None, None, None, None)
    while event_id < n:
        if left == 0:
            session, left = event_id, lib.integer(1, 12)
            user = lib.integer(1, 1_000_000)
            ts = lib.instant_us()
            referrer = lib.url() if lib.chance(55) else None
            if lib.chance(30):
                medium = lib.choice(MEDIUMS)
                term = lib.words(2) if medium == "cpc" else None
                utm = (lib.choice(SOURCES), medium, lib.slug(), term, lib.choice(CONTENTS))
            else:
                utm = (None, None, None, None, None)
        kind = lib.choice(PAGE_KINDS)
        if kind == "home":
            page = "/"
        elif kind == "category":
            page = f"/c/{lib.word()}"
        elif kind == "product":
            page = f"/p/{lib.sku()}"
        else:
            page = f"/{kind}"
        yield (event_id, user, session, ts, page, referrer, *utm)
        ts += lib.integer(1, 120) * 1_000_000
        event_id += 1
        left -= 1


def worker(argv):
    """`run.py _worker faker|mimesis --rows N --out FILE`: one measured child."""
    ap = argparse.ArgumentParser(prog="run.py _worker")
    ap.add_argument("lib", choices=["faker", "mimesis"])
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--batch", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pa.set_cpu_count(1)  # the tool's one thread: Arrow's pools get one each
    pa.set_io_thread_count(1)
    lib = FakerLib(a.seed) if a.lib == "faker" else MimesisLib(a.seed)
    schema = clicks_schema()
    names = schema.names
    written = 0
    with pq.ParquetWriter(a.out, schema, compression="zstd", compression_level=1) as w:
        cols = [[] for _ in names]
        for row in clicks_rows(lib, a.rows):
            for c, v in zip(cols, row):
                c.append(v)
            if len(cols[0]) == a.batch:
                w.write_table(pa.table(dict(zip(names, cols)), schema=schema))
                written += len(cols[0])
                cols = [[] for _ in names]
        if cols[0]:
            w.write_table(pa.table(dict(zip(names, cols)), schema=schema))
            written += len(cols[0])
    print(json.dumps({"rows": written}))


# ------------------------------------------------------------------ machine


def machine():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory": mem,
        "kernel": platform.release(),
        "arch": platform.machine(),
        "python": platform.python_version(),
    }


def version_of(cmd):
    try:
        p = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def git_describe():
    p = subprocess.run(["git", "describe", "--always", "--dirty"], check=False, cwd=REPO, capture_output=True, text=True)
    return p.stdout.strip() or "unknown"


# ------------------------------------------------------------------ report


def fmt_int(x):
    return f"{x:,.0f}"


def fmt_rate(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:,.2f}"


def shell(cmd):
    return " ".join(shlex.quote(str(c)) for c in cmd)


def rel(path):
    """The path from the repository root if it is inside (symlinks kept)."""
    for p in (Path(os.path.abspath(path)), Path(path).resolve()):
        try:
            return str(p.relative_to(REPO))
        except ValueError:
            pass
    return str(path)


def plot_peers(peers, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [p["tool"] for p in peers]
    panels = [("rows/s per core", [p["rows_per_s_core"] for p in peers]),
              ("MB/s per core (Parquet written)", [p["mb_per_s_core"] for p in peers])]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.6 * len(peers) + 2.2))
    for ax, (title, values) in zip(axes, panels):
        bars = ax.barh(names, values, color=["#d62728" if n == "marketpulse" else "#1f77b4" for n in names])
        positive = [v for v in values if v > 0]
        if positive and max(positive) / min(positive) > 20:
            ax.set_xscale("log")
            title += " (log scale)"
        ax.set_title(title)
        ax.invert_yaxis()
        ax.bar_label(bars, labels=[fmt_rate(v) for v in values], padding=3, fontsize=8)
        ax.margins(x=0.25)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("Generators on one core each (median wall clock)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_curve(xs, ys, path, xlabel, ylabel, title, ideal=None, note=None, cores=None, label=fmt_rate):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(xs, ys, "o-", label="measured")
    for x, y in zip(xs, ys):
        ax.annotate(label(y), (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
    if ideal:
        ax.plot(xs, ideal, "--", color="gray", label="linear from the first point, up to the cores")
    if cores:
        ax.axvline(cores, color="orange", alpha=0.5, label=f"{cores} cores on this machine")
    ax.set_xticks(xs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0, max([*ys, *(ideal or [])]) * 1.18)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, color="gray")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(res, results_dir):
    m = res["machine"]
    lines = [
        "# MarketPulse beside its peers",
        "",
        f"Recorded {res['date']} by `{res['command']}`"
        + (" (**--quick: tiny sizes, a smoke test; not a benchmark**)" if res["quick"] else "") + ".",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, {m['arch']}, Linux {m['kernel']}, Python {m['python']}.",
        f"MarketPulse: `{rel(res['marketpulse'])}` ({res['build']} build), {res['versions']['marketpulse']}, tree {res['git']}.",
        "",
    ]
    if res["build"] != "release":
        lines += ["**This run used a debug build: its MarketPulse numbers say nothing about speed.**", ""]
    if res.get("peers"):
        lines += [
            "## Peers, one core each",
            "",
            (f"Median of {res['runs']} runs each. Seconds are the wall clock of the whole child process"
            " (start-up, imports and the final write included). Per core = divided by the cores the tool"
            " was allowed: every tool here is held to one thread (see *threads*), so per core is the plain"
            " rate; *CPU / wall* shows how many cores it kept busy. MB = 10^6 bytes of Parquet written."),
            "",
            ("| tool | what it generates | threads | rows | seconds | rows/s per core | MB/s per core"
            " | output bytes per row | CPU s | CPU / wall | peak RSS (MiB) | every run (s) |"),
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for p in res["peers"]:
            runs = ", ".join(f"{r['wall']:.2f}" for r in p["runs"])
            lines.append(
                f"| {p['tool']} {p['version']} | {p['what']} | {p['threads']} | {fmt_int(p['rows'])}"
                f" | {p['wall']:.2f} | {fmt_rate(p['rows_per_s_core'])} | {p['mb_per_s_core']:.2f}"
                f" | {p['bytes'] / max(p['rows'], 1):.2f} | {p['cpu']:.2f} | {p['cpu'] / p['wall']:.2f}"
                f" | {p['rss_mib']:.0f} | {runs} |"
            )
        lines += ["", "![rows/s and MB/s per core](peers.png)", "", "Commands (OUT is a fresh temp folder each run):", ""]
        for p in res["peers"]:
            lines.append(f"- {p['tool']}: `{p['command']}`")
        lines += [
            "",
            ("Faker and mimesis write the columns of the producer's default clicks schema"
            " (`schemas/clicks.v1.json`: event_id, user_id, session_id, ts, page, referrer, utm_source,"
            " utm_medium, utm_campaign, utm_term, utm_content) in sessions of 1-12 page views,"
            " one provider call per value, through pyarrow's ParquetWriter (ZSTD level 1, dictionary"
            f" pages, {res['batch']:,}-row batches). tpchgen-cli writes TPC-H lineitem (16 columns,"
            " wider rows), so compare its bytes per row with care."),
            "",
        ]
    if res.get("threads"):
        lines += ["## Events/s against --threads", "",
                  "| threads | command | events | seconds | events/s | events/s per thread | every run (s) |",
                  "|---:|---|---:|---:|---:|---:|---|"]
        for t in res["threads"]:
            runs = ", ".join(f"{r['wall']:.2f}" for r in t["runs"])
            lines.append(f"| {t['threads']} | `{t['command']}` | {fmt_int(t['rows'])} | {t['wall']:.2f}"
                         f" | {fmt_int(t['events_per_s'])} | {fmt_int(t['events_per_s'] / t['threads'])} | {runs} |")
        lines += ["", "![events/s against threads](scaling-threads.png)", ""]
    if res.get("shards"):
        lines += ["## Events/s against shard processes", "",
                  ("N processes started together, each `--threads 1 --shard-index i --shard-count N`, into one"
                  " folder; events are the sum over the shard manifests, seconds the wall clock until the"
                  " last one exits. CPU s is summed over the processes; peak RSS is the largest process's."),
                  "",
                  "| processes | events | seconds | events/s | CPU s | peak RSS (MiB) | every run (s) |",
                  "|---:|---:|---:|---:|---:|---:|---|"]
        for s in res["shards"]:
            runs = ", ".join(f"{r['wall']:.2f}" for r in s["runs"])
            lines.append(f"| {s['processes']} | {fmt_int(s['rows'])} | {s['wall']:.2f} | {fmt_int(s['events_per_s'])}"
                         f" | {s['cpu']:.2f} | {s['rss_mib']:.0f} | {runs} |")
        lines += ["", f"Command of shard i of N: `{res['shard_command']}`", "",
                  "![events/s against shard processes](scaling-shards.png)", ""]
    if res.get("rss"):
        lines += ["## Peak RSS against --days", "",
                  "| days | command | events | seconds | peak RSS (MiB), largest run | every run's RSS (MiB) |",
                  "|---:|---|---:|---:|---:|---|"]
        for d in res["rss"]:
            runs = ", ".join(f"{r['rss_mib']:.0f}" for r in d["runs"])
            lines.append(f"| {d['days']} | `{d['command']}` | {fmt_int(d['rows'])} | {d['wall']:.2f}"
                         f" | {d['rss_mib']:.0f} | {runs} |")
        lines += ["", "![peak RSS against days](rss-days.png)", ""]
    lines += ["Raw numbers: `peers.json`.", ""]
    (results_dir / "peers.md").write_text("\n".join(lines))


# -------------------------------------------------------------------- main


def find_tpchgen(given):
    if given:
        return Path(given)
    found = shutil.which("tpchgen-cli")
    if found:
        return Path(found)
    return Path.home() / ".cargo" / "bin" / "tpchgen-cli"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        worker(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, help="runs per measurement, the median is reported (3; --quick 1)")
    ap.add_argument("--rows", type=int, help="Faker and mimesis rows (200,000; --quick 2,000)")
    ap.add_argument("--batch", type=int, default=50_000, help="rows per pyarrow write (and row group)")
    ap.add_argument("--tpch-scale", help="tpchgen-cli scale factor (1; --quick 0.01)")
    ap.add_argument("--scale", help="marketpulse --scale (1; --quick 0.01)")
    ap.add_argument("--marketpulse", type=Path,
                    help=f"the binary (default {rel(RELEASE_BIN)}, or {rel(DEBUG_BIN)} if that is missing)")
    ap.add_argument("--tpchgen", help="tpchgen-cli binary (default: on PATH, else ~/.cargo/bin/tpchgen-cli)")
    ap.add_argument("--results", type=Path, default=HERE.parent / "results", help="where the report goes")
    ap.add_argument("--scratch", type=Path, help="where generated data goes while measured (default: the temp dir)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--quick", action="store_true", help="tiny sizes and one run: a smoke test, not a benchmark")
    a = ap.parse_args()
    preset = QUICK if a.quick else FULL
    runs = a.runs or preset["runs"]
    rows = a.rows or preset["rows"]
    tpch_scale = a.tpch_scale or preset["tpch_scale"]
    scale = a.scale or preset["scale"]
    sections = [s.strip() for s in a.sections.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections: {', '.join(sorted(unknown))}")

    mp = a.marketpulse or (RELEASE_BIN if RELEASE_BIN.exists() else DEBUG_BIN)
    mp = mp.resolve()
    if not mp.exists():
        raise SystemExit(f"{mp} is missing: cargo build --release first")
    build = "debug" if "debug" in mp.parts else "release"
    if build != "release":
        print(f"warning: {rel(mp)} is a debug build: its speed means nothing", file=sys.stderr)
    tpchgen = find_tpchgen(a.tpchgen)
    if "peers" in sections and not tpchgen.exists():
        raise SystemExit(f"{tpchgen} is missing: cargo install tpchgen-cli --locked (see README.md)")

    import faker
    import mimesis
    import pyarrow

    cores = len(os.sched_getaffinity(0))
    results_dir = a.results.resolve()
    results_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="mp-peers-", dir=a.scratch))
    mp_cmd = rel(mp) if str(mp).startswith(str(REPO)) else str(mp)
    res = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shell([rel(Path(__file__).resolve()), *sys.argv[1:]]),
        "quick": a.quick,
        "machine": machine(),
        "git": git_describe(),
        "marketpulse": rel(mp),
        "build": build,
        "runs": runs,
        "batch": a.batch,
        "versions": {
            "marketpulse": version_of([str(mp), "--version"]),
            "tpchgen-cli": version_of([str(tpchgen), "--version"]) if tpchgen.exists() else "missing",
            "faker": faker.VERSION,
            "mimesis": mimesis.__version__,
            "pyarrow": pyarrow.__version__,
        },
    }
    env = dict(os.environ, RUST_LOG="error")

    def mp_count(out):
        events = marketpulse_rows(out)
        prow, nbytes, files = parquet_rows_bytes(out)
        if prow != events:
            print(f"  warning: manifests list {events} events, the Parquet files hold {prow}", file=sys.stderr)
        return events, nbytes, files

    def say(text):
        print(text, file=sys.stderr, flush=True)

    try:
        if "peers" in sections:
            peers = []
            tp = [str(tpchgen), "parquet", "--scale-factor", tpch_scale, "--tables", "lineitem",
                  "--compression", "ZSTD(1)", "--num-threads", "1", "--quiet", "--output-dir"]
            py = [sys.executable, str(Path(__file__).resolve()), "_worker"]
            mp_flags = ["generate", "--domains", "clicks", "--threads", "1", "--days", "1",
                        "--scale", scale, "--quiet", "--out"]
            specs = [
                ("tpchgen-cli", res["versions"]["tpchgen-cli"].split()[-1],
                 f"TPC-H lineitem, SF {tpch_scale}, 16 columns, one Parquet file, ZSTD(1)",
                 "`--num-threads 1`",
                 lambda out: [tp + [str(out)]],
                 shell(["tpchgen-cli", *tp[1:], "OUT"]),
                 parquet_rows_bytes),
                ("faker", faker.VERSION,
                 "clicks-like rows (11 columns of clicks v1), pyarrow Parquet, ZSTD(1)",
                 "Python (1); `pa.set_cpu_count(1)`",
                 lambda out: [py + ["faker", "--rows", str(rows), "--batch", str(a.batch),
                                    "--out", str(out / "clicks.parquet")]],
                 shell([rel(sys.executable), rel(__file__), "_worker", "faker", "--rows", rows, "--batch", a.batch,
                       "--out", "OUT/clicks.parquet"]),
                 parquet_rows_bytes),
                ("mimesis", mimesis.__version__,
                 "clicks-like rows (11 columns of clicks v1), pyarrow Parquet, ZSTD(1)",
                 "Python (1); `pa.set_cpu_count(1)`",
                 lambda out: [py + ["mimesis", "--rows", str(rows), "--batch", str(a.batch),
                                    "--out", str(out / "clicks.parquet")]],
                 shell([rel(sys.executable), rel(__file__), "_worker", "mimesis", "--rows", rows, "--batch", a.batch,
                       "--out", "OUT/clicks.parquet"]),
                 parquet_rows_bytes),
                ("marketpulse", res["versions"]["marketpulse"].split()[-1],
                 "clicks (v1, 11 columns), 1 day, Parquet per hour partition, ZSTD(1)",
                 "`--threads 1`",
                 lambda out: [[str(mp), *mp_flags, str(out)]],
                 shell([mp_cmd, *mp_flags, "OUT"]),
                 mp_count),
            ]
            for tool, version, what, threads, make, command, count in specs:
                say(f"peers: {tool} x {runs} ...")
                r = repeat(runs, scratch, make, count, cwd=REPO, env=env)
                r.update(tool=tool, version=version, what=what, threads=threads, command=command, cores=1)
                r["rows_per_s_core"] = r["rows"] / r["wall"] / r["cores"]
                r["mb_per_s_core"] = r["bytes"] / MB / r["wall"] / r["cores"]
                say(f"  {fmt_int(r['rows'])} rows in {r['wall']:.2f} s: {fmt_rate(r['rows_per_s_core'])} rows/s")
                peers.append(r)
            res["peers"] = peers
            plot_peers(peers, results_dir / "peers.png")

        base = [str(mp), "generate", "--domains", "clicks", "--scale", scale, "--quiet"]
        if "threads" in sections:
            res["threads"] = []
            for t in range(1, cores + 1):
                say(f"threads: {t} x {runs} ...")
                flags = ["--threads", str(t), "--days", "1"]
                r = repeat(runs, scratch, lambda out, f=flags: [base + f + ["--out", str(out)]], mp_count, cwd=REPO, env=env)
                r.update(threads=t, command=shell([mp_cmd, *base[1:], *flags, "--out", "OUT"]))
                r["events_per_s"] = r["rows"] / r["wall"]
                res["threads"].append(r)
            xs = [t["threads"] for t in res["threads"]]
            ys = [t["events_per_s"] for t in res["threads"]]
            plot_curve(xs, ys, results_dir / "scaling-threads.png", "--threads", "events/s",
                       f"marketpulse clicks, 1 day, scale {scale}: events/s against threads",
                       ideal=[ys[0] * min(x, cores) for x in xs], note=f"{res['machine']['cpu']}, {cores} cores")

        if "shards" in sections:
            res["shards"] = []
            res["shard_command"] = shell([mp_cmd, *base[1:], "--threads", "1", "--days", "1",
                                          "--shard-index", "i", "--shard-count", "N", "--out", "OUT"])
            for n in SHARDS:
                say(f"shards: {n} processes x {runs} ...")

                def make(out, n=n):
                    return [base + ["--threads", "1", "--days", "1", "--shard-index", str(i),
                                    "--shard-count", str(n), "--out", str(out)] for i in range(n)]

                r = repeat(runs, scratch, make, mp_count, cwd=REPO, env=env)
                r.update(processes=n)
                r["events_per_s"] = r["rows"] / r["wall"]
                res["shards"].append(r)
            if len({s["rows"] for s in res["shards"]}) != 1:
                say("  warning: the shard counts made different numbers of events")
            xs = [s["processes"] for s in res["shards"]]
            ys = [s["events_per_s"] for s in res["shards"]]
            plot_curve(xs, ys, results_dir / "scaling-shards.png", "shard processes (each --threads 1)", "events/s",
                       f"marketpulse clicks, 1 day, scale {scale}: events/s against shard processes",
                       ideal=[ys[0] * min(x, cores) for x in xs], cores=cores, note=f"{res['machine']['cpu']}, {cores} cores")

        if "rss" in sections:
            res["rss"] = []
            for d in DAYS:
                say(f"rss: {d} days x {runs} ...")
                flags = ["--threads", str(cores), "--days", str(d)]
                r = repeat(runs, scratch, lambda out, f=flags: [base + f + ["--out", str(out)]], mp_count, cwd=REPO, env=env)
                r.update(days=d, command=shell([mp_cmd, *base[1:], *flags, "--out", "OUT"]))
                res["rss"].append(r)
            xs = [d["days"] for d in res["rss"]]
            ys = [d["rss_mib"] for d in res["rss"]]
            plot_curve(xs, ys, results_dir / "rss-days.png", "--days", "peak RSS (MiB), largest run",
                       f"marketpulse clicks, scale {scale}, --threads {cores}: peak RSS against days",
                       note=f"ru_maxrss of the child; {res['machine']['cpu']}, {cores} cores",
                       label=lambda v: f"{v:.1f} MiB")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    (results_dir / "peers.json").write_text(json.dumps(res, indent=2) + "\n")
    write_report(res, results_dir)
    say(f"wrote {results_dir}/peers.md, peers.json and the charts")


if __name__ == "__main__":
    main()
