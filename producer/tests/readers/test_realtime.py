"""Real-time mode and graceful shutdown: the same events as a backfill, in
event-time order, micro-batched files, and an exact manifest when stopped."""

import json
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from marketpulse_testkit import generate, load_manifest

DIRTY = "[dirty]\nlate = 0.02\nduplicates = 0.01\nmalformed = 0.01\n"
FLAGS = ["--scale", "0.001", "--start", "2025-03-08"]


def ids(rows):
    return Counter(("click", r["event_id"]) if "event_id" in r else ("sale", r["transaction_id"]) for r in rows)


def jsonl_rows(lake):
    rows = []
    for f in load_manifest(lake)["files"]:
        if f["domain"] in ("sales", "clicks"):
            for line in (lake / f["path"]).read_text().splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return rows


@pytest.mark.slow
def test_realtime_stdout_emits_the_backfill_events_in_event_time_order(binary, tmp_path):
    backfill = generate(binary, tmp_path / "backfill", *FLAGS, "--format", "jsonl", "--domains", "sales,clicks", config=DIRTY)
    cfg = tmp_path / "dirty.toml"
    cfg.write_text(DIRTY)
    run = subprocess.run(
        [binary, "generate", "--out", tmp_path / "m", *FLAGS, "--sink", "stdout", "--mode", "realtime", "--speedup", "20000", "--config", cfg],
        capture_output=True,
        text=True,
        check=True,
    )
    rows, broken = [], 0
    for line in run.stdout.splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            broken += 1
    assert ids(rows) == ids(jsonl_rows(backfill))
    assert broken > 0  # unparseable lines travel as records too
    # Event-time order, apart from the injected late and future rows: a late
    # row goes out when it lands, at the start of a later hour.
    shifted = set()
    for path in (tmp_path / "m" / "_truth").rglob("*.csv"):
        domain = "click" if "clicks" in path.parts else "sale"
        for line in path.read_text().splitlines()[1:]:
            rid, kind = line.split(",")
            if kind in ("late", "future_timestamp"):
                shifted.add((domain, int(rid)))
    key = lambda r: ("click", r["event_id"]) if "event_id" in r else ("sale", r["transaction_id"])
    clean = [datetime.fromisoformat(r["ts"]) for r in rows if key(r) not in shifted]
    assert clean == sorted(clean)
    late = 0
    for i, r in enumerate(rows):
        if key(r) in shifted and i + 1 < len(rows) and key(rows[i + 1]) not in shifted:
            nxt = datetime.fromisoformat(rows[i + 1]["ts"])
            ts = datetime.fromisoformat(r["ts"])
            if ts < nxt:
                late += 1
                assert ts < nxt.replace(minute=0, second=0, microsecond=0)
    assert late > 0
    assert "event lag" in run.stderr and "p99.9" in run.stderr


@pytest.mark.slow
def test_realtime_object_sink_writes_deterministic_micro_batches(binary, tmp_path):
    flags = [*FLAGS, "--mode", "realtime", "--speedup", "50000", "--flush-seconds", "900", "--domains", "sales,clicks"]
    a = generate(binary, tmp_path / "a", *flags)
    b = generate(binary, tmp_path / "b", *flags)
    files_a = {f["path"]: f["sha256"] for f in load_manifest(a)["files"]}
    assert files_a == {f["path"]: f["sha256"] for f in load_manifest(b)["files"]}
    # Four 15-minute files per hour and domain, holding exactly the backfill's rows.
    hour13 = [p for p in files_a if p.startswith("clicks/ingest_date=2025-03-08/hour=13/")]
    assert len(hour13) == 4
    backfill = generate(binary, tmp_path / "backfill", *FLAGS, "--domains", "sales,clicks")
    rt_rows, bf_rows = [], []
    for path in files_a:
        rt_rows += pq.read_table(a / path).to_pylist()
    for f in load_manifest(backfill)["files"]:
        bf_rows += pq.read_table(backfill / f["path"]).to_pylist()
    assert ids(rt_rows) == ids(bf_rows)
    # Within a file, events are in time order.
    for path in hour13:
        ts = pq.read_table(a / path).column("ts").to_pylist()
        assert ts == sorted(ts)


def truth_of(path):
    lines = path.read_text().splitlines()
    assert lines[0] == "id,kind"
    return [tuple(line.split(",")) for line in lines[1:]]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_realtime_micro_batches_carry_their_own_truth(binary, tmp_path, fmt):
    flags = [*FLAGS, "--format", fmt, "--domains", "sales,clicks"]
    rt = generate(binary, tmp_path / "rt", *flags, "--mode", "realtime", "--speedup", "50000", "--flush-seconds", "900", config=DIRTY)
    backfill = generate(binary, tmp_path / "bf", *flags, config=DIRTY)
    files = [f for f in load_manifest(rt)["files"] if f["domain"] in ("sales", "clicks")]
    truth_paths = {f["path"] for f in load_manifest(rt)["files"] if f["domain"] == "truth"}
    assert any("-m0001." in f["path"] for f in files)
    seen = Counter()
    for f in files:
        stem = f["path"].rsplit(".", 1)[0]
        truth_path = f"_truth/{stem}.csv"
        assert truth_path in truth_paths, f["path"]
        truth_paths.remove(truth_path)
        truth = truth_of(rt / truth_path)
        # The manifest's counts are the sidecar's.
        assert f.get("defects", {}) == dict(Counter(kind for _, kind in truth)), f["path"]
        key = "event_id" if f["domain"] == "clicks" else "transaction_id"
        if fmt == "jsonl":
            rows, broken = [], 0
            for line in (rt / f["path"]).read_text().splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    broken += 1
            assert broken == sum(1 for _, kind in truth if kind == "unparseable"), f["path"]
        else:
            rows = pq.read_table(rt / f["path"]).to_pylist()
        ids_here = {str(r[key]) for r in rows}
        assert {rid for rid, kind in truth if kind != "unparseable"} <= ids_here, f["path"]
        seen.update((f["domain"], rid, kind) for rid, kind in truth)
    assert not truth_paths, f"sidecars without a data file: {sorted(truth_paths)[:3]}"
    # Together, the micro-batches carry exactly the backfill's defects.
    expected = Counter()
    for f in load_manifest(backfill)["files"]:
        if f["domain"] == "truth":
            domain = f["path"].split("/")[1]
            expected.update((domain, rid, kind) for rid, kind in truth_of(backfill / f["path"]))
    assert seen == expected
    assert any(kind == "unparseable" for _, _, kind in seen) == (fmt == "jsonl")


def first_data_file(out):
    """A data file of the lake once one is complete under its final name."""
    for path in Path(out).rglob("part-*"):
        return path
    return None


def stopped_run(binary, out, sig, extra, ready):
    """Starts `generate`, waits until `ready(proc)` says it is producing,
    then sends `sig`; returns (exit code, stdout, stderr)."""
    proc = subprocess.Popen(
        [binary, "generate", "--out", out, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    first = ready(proc)
    while first is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        first = ready(proc)
    assert first is not None and proc.poll() is None, "the run never got going"
    proc.send_signal(sig)
    # Read through the same buffered pipes that `ready` read from (stderr is
    # a few lines, so it cannot fill its pipe meanwhile).
    stdout = proc.stdout.read()
    stderr = proc.stderr.read()
    proc.wait(timeout=60)
    return proc.returncode, (first if isinstance(first, str) else "") + stdout, stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_a_signal_stops_realtime_with_an_exact_manifest(binary, tmp_path, sig, code):
    # SIGHUP (the terminal closed) is handled like SIGINT and SIGTERM.
    # Ready once the first event is out: readline blocks until it is.
    got, stdout, stderr = stopped_run(
        binary,
        tmp_path / "m",
        sig,
        [*FLAGS, "--sink", "stdout", "--mode", "realtime", "--rate", "500"],
        ready=lambda proc: proc.stdout.readline() or None,
    )
    assert got == code, stderr
    assert stderr.strip().splitlines()[-1].startswith(f"marketpulse: interrupted by {sig.name}")
    manifest = load_manifest(tmp_path / "m")
    assert manifest["complete"] is False
    sent = [json.loads(line) for line in stdout.splitlines()]
    assert 0 < len(sent) < 3000
    listed = sum(f["rows"] for f in manifest["files"] if f["domain"] in ("sales", "clicks"))
    assert listed == len(sent)


@pytest.mark.slow
def test_sigterm_stops_a_backfill_with_a_manifest_of_complete_files(binary, tmp_path):
    lake = tmp_path / "lake"
    flags = ["--scale", "2", "--threads", "1"]
    code, _, stderr = stopped_run(binary, lake, signal.SIGTERM, flags, ready=lambda proc: first_data_file(lake))
    assert code == 143, stderr
    assert "interrupted by SIGTERM" in stderr
    manifest = load_manifest(lake)
    assert manifest["complete"] is False and manifest["files"]
    # verify says the run is incomplete, and finds nothing else wrong: every
    # listed file is there and whole.
    verify = subprocess.run([binary, "verify", "--json", lake], check=False, capture_output=True, text=True)
    assert verify.returncode == 1, verify.stderr
    kinds = {p["kind"] for p in json.loads(verify.stdout)["problems"]}
    assert "incomplete" in kinds and kinds <= {"incomplete", "interrupted"}, verify.stdout
    # --resume finishes it.
    subprocess.run([binary, "generate", "--out", lake, *flags, "--resume"], check=True, capture_output=True)
    assert load_manifest(lake)["complete"] is True
    verify = subprocess.run([binary, "verify", lake], check=False, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr


def test_duration_ends_a_realtime_run_normally_with_an_incomplete_manifest(binary, tmp_path):
    cfg = tmp_path / "dirty.toml"
    cfg.write_text(DIRTY)
    run = subprocess.run(
        [binary, "generate", "--out", tmp_path / "m", *FLAGS, "--sink", "stdout", "--mode", "realtime", "--rate", "1000", "--duration", "1", "--config", cfg],
        check=False,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    manifest = load_manifest(tmp_path / "m")
    assert manifest["complete"] is False
    sent = run.stdout.splitlines()
    assert 500 < len(sent) < 2000
    data = [f for f in manifest["files"] if f["domain"] != "truth"]
    assert sum(f["rows"] for f in data) == len(sent)
    # The truth covers exactly the rows sent before the stop.
    sent_ids = set()
    for line in sent:
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        sent_ids.add(str(r.get("event_id", r.get("transaction_id"))))
    injected = 0
    for f in data:
        stem = f["path"].rsplit(".", 1)[0]
        truth = truth_of(tmp_path / "m" / "_truth" / f"{stem}.csv")
        assert f.get("defects", {}) == dict(Counter(kind for _, kind in truth))
        assert {rid for rid, kind in truth if kind != "unparseable"} <= sent_ids
        injected += len(truth)
    assert injected > 0
    sidecars = [f for f in manifest["files"] if f["domain"] == "truth"]
    assert len(sidecars) == len(data)
