"""Dirty data: a reader recomputes every injected defect from the files and
finds exactly what the manifest counts and the truth sidecar lists."""

import csv
import json
import subprocess
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from marketpulse_testkit import DIRTY, generate, load_manifest

MALFORMED = {"null_key", "negative_amount", "unknown_currency", "future_timestamp", "amount_mismatch", "unparseable"}


@pytest.fixture(scope="module", params=["parquet", "jsonl"])
def dirty_lake(request, binary, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"dirty-{request.param}")
    generate(binary, out, "--scale", "0.01", "--format", request.param, "--domains", "stores,sales,clicks", config=DIRTY)
    return out, request.param


def read_rows(path, fmt):
    """Rows as dicts, plus the number of lines that do not parse."""
    if fmt == "parquet":
        return pq.read_table(path).to_pylist(), 0
    rows, broken = [], 0
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError:
            broken += 1
            continue
        row["ts"] = datetime.fromisoformat(row["ts"])
        rows.append(row)
    return rows, broken


def recompute(rows, broken, domain, partition, currencies):
    """Defect ids by kind, found from the data alone."""
    parts = dict(p.split("=") for p in partition.split("/"))
    start = datetime.fromisoformat(parts["ingest_date"]).replace(tzinfo=UTC) + timedelta(hours=int(parts["hour"]))
    end = start + timedelta(hours=1)
    id_col, key_col = ("event_id", "user_id") if domain == "clicks" else ("transaction_id", "store_id")
    found = defaultdict(list)
    if broken:
        found["unparseable"] = [None] * broken
    for prev, row in zip([None] + rows, rows):
        rid = row[id_col]
        if prev is not None and prev[id_col] == rid:
            found["duplicate" if prev == row else "near_duplicate"].append(rid)
        elif row["ts"] < start:
            found["late"].append(rid)
        elif row["ts"] >= end:
            found["future_timestamp"].append(rid)
        elif row[key_col] is None:
            found["null_key"].append(rid)
        elif domain == "sales" and row["amount"] < 0:
            found["negative_amount"].append(rid)
        elif domain == "sales" and row["currency"] not in currencies:
            found["unknown_currency"].append(rid)
        elif domain == "sales" and Decimal(row["amount"]) != sum(Decimal(i["qty"]) * Decimal(i["unit_price"]) for i in row["items"]):
            found["amount_mismatch"].append(rid)
    return found


@pytest.mark.slow
def test_manifest_counts_and_truth_match_the_data(dirty_lake):
    lake, fmt = dirty_lake
    manifest = load_manifest(lake)
    currencies = set(manifest["spec"]["world"]["fx_per_usd"])
    truth_paths = {f["path"] for f in manifest["files"] if f["domain"] == "truth"}
    totals = Counter()
    for f in manifest["files"]:
        if f["domain"] not in ("sales", "clicks"):
            continue
        rows, broken = read_rows(lake / f["path"], fmt)
        found = recompute(rows, broken, f["domain"], f["partition"], currencies)
        counts = {k: len(v) for k, v in found.items() if v}
        assert counts == f.get("defects", {}), f["path"]

        truth_path = "_truth/" + f["path"].rsplit(".", 1)[0] + ".csv"
        assert truth_path in truth_paths
        with open(lake / truth_path, newline="") as fh:
            truth = list(csv.DictReader(fh))
        by_kind = defaultdict(list)
        for t in truth:
            by_kind[t["kind"]].append(int(t["id"]))
        for kind, ids in found.items():
            if kind == "unparseable":
                # The broken line's id appears nowhere else in the file.
                parsed = {r["event_id" if f["domain"] == "clicks" else "transaction_id"] for r in rows}
                assert len(by_kind[kind]) == len(ids) and not parsed & set(by_kind[kind])
            else:
                assert sorted(by_kind[kind]) == sorted(ids), (f["path"], kind)
        assert set(by_kind) == {k for k, v in found.items() if v}
        totals.update(counts)
    # Every kind happens, at about its configured rate.
    kinds = {"late", "duplicate", "near_duplicate"} | MALFORMED
    if fmt != "jsonl":
        kinds.discard("unparseable")
    assert set(totals) == kinds, totals
    rows = sum(f["rows"] for f in manifest["files"] if f["domain"] in ("sales", "clicks"))
    assert 0.015 < totals["late"] / rows < 0.025


def test_profile_reports_the_manifest_defects(dirty_lake, binary):
    lake, fmt = dirty_lake
    run = subprocess.run([binary, "profile", "--json", lake], check=False, capture_output=True, text=True)
    if fmt != "parquet":
        assert run.returncode == 2
        assert run.stderr.count("\n") == 1 and "profile reads Parquet lakes" in run.stderr
        return
    assert run.returncode == 0, run.stderr
    profile = json.loads(run.stdout)
    totals = Counter()
    for f in load_manifest(lake)["files"]:
        totals.update(f.get("defects", {}))
    assert profile["defects"] == dict(totals)
    text = subprocess.run([binary, "profile", lake], capture_output=True, text=True, check=True).stdout
    assert "injected defects" in text and "duplicate" in text


def test_dirty_data_is_deterministic(dirty_lake, binary, tmp_path):
    lake, fmt = dirty_lake
    again = generate(binary, tmp_path / "again", "--scale", "0.01", "--format", fmt, "--domains", "stores,sales,clicks", "--threads", "1", config=DIRTY)
    assert load_manifest(again)["files"] == load_manifest(lake)["files"]


@pytest.mark.slow
def test_late_rows_move_unchanged_and_the_rest_is_the_clean_lake(dirty_lake, binary, tmp_path):
    """Dropping copies and malformed rows from the dirty lake leaves the clean
    lake, row for row: late rows keep their values and only land later,
    within `late_max_hours` and within the run."""
    lake, fmt = dirty_lake
    clean = generate(binary, tmp_path / "clean", "--scale", "0.01", "--format", fmt, "--domains", "stores,sales,clicks")
    manifest = load_manifest(lake)
    late_max = manifest["spec"]["dirty"]["late_max_hours"]
    last_hour = datetime.fromisoformat(manifest["spec"]["start"]).replace(tzinfo=UTC) + timedelta(days=manifest["spec"]["days"])
    for domain, id_col in (("sales", "transaction_id"), ("clicks", "event_id")):
        malformed, late = set(), set()
        for t in (lake / "_truth" / domain).rglob("*.csv"):
            for r in csv.DictReader(t.open(newline="")):
                if r["kind"] in MALFORMED:
                    malformed.add(int(r["id"]))
                elif r["kind"] == "late":
                    late.add(int(r["id"]))
        kept, moved = [], 0
        for f in sorted((lake / domain).rglob(f"*.{fmt}")):
            rows, _ = read_rows(f, fmt)
            parts = dict(p.split("=") for p in f.parent.relative_to(lake / domain).parts)
            landed = datetime.fromisoformat(parts["ingest_date"]).replace(tzinfo=UTC) + timedelta(hours=int(parts["hour"]))
            for prev, row in zip([None] + rows, rows):
                if prev is not None and prev[id_col] == row[id_col]:
                    continue  # a copy, right after its original
                if row[id_col] in late:
                    delay = landed - row["ts"].replace(minute=0, second=0, microsecond=0)
                    assert timedelta(hours=1) <= delay <= timedelta(hours=late_max) and landed < last_hour
                    moved += 1
                if row[id_col] not in malformed:
                    kept.append(row)
        expected = []
        for f in sorted((clean / domain).rglob(f"*.{fmt}")):
            expected += [r for r in read_rows(f, fmt)[0] if r[id_col] not in malformed]
        assert moved == len(late) > 0
        assert by_id(kept, id_col) == by_id(expected, id_col), domain


def by_id(rows, id_col):
    """Rows sorted by id, without the partition values pyarrow adds from a file's path."""
    return sorted(({k: v for k, v in r.items() if k not in ("ingest_date", "hour")} for r in rows), key=lambda r: r[id_col])
