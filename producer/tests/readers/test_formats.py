"""One dataset in Parquet, JSON lines and CSV: every table reads back to the
same rows and values, typed by the schema files."""

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from marketpulse_testkit import REPO, generate, load_manifest

FLAGS = ["--scale", "0.003", "--start", "2025-03-08", "--clicks-v2-from", "2025-03-08"]
SCHEMAS = {p.stem.split(".")[0]: json.loads(p.read_text()) for p in sorted((REPO / "schemas").glob("*.json"))}


def typed(value, col):
    """A value from any of the three formats, as Python of the column's type."""
    if value is None or value == "":
        return None
    t = col["type"]
    if t in ("int32", "int64"):
        return int(value)
    if t == "bool":
        return value is True or value == "true"
    if t == "date":
        return value if isinstance(value, date) else date.fromisoformat(value)
    if t == "timestamp_us_utc":
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.fromisoformat(value).astimezone(UTC)
    if t.startswith("decimal"):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    if t == "list":
        items = json.loads(value) if isinstance(value, str) else value
        return [{f["name"]: typed(item.get(f["name"]), f) for f in col["fields"]} for item in items]
    return str(value)


def text(path):
    """A text file's content, decompressed by its ending (.gz, .zst)."""
    codec = {".gz": "gzip", ".zst": "zstd"}.get(path.suffix)
    return pa.input_stream(str(path), compression=codec).read().decode()


def rows(lake, table, fmt):
    schema = SCHEMAS[table]
    out = []
    for f in load_manifest(lake)["files"]:
        if f["domain"] != table:
            continue
        path = lake / f["path"]
        if fmt == "parquet":
            raw = pq.read_table(path).to_pylist()
        elif fmt.startswith("jsonl"):
            raw = [json.loads(line) for line in text(path).splitlines()]
        else:
            raw = list(csv.DictReader(io.StringIO(text(path))))
        for r in raw:
            # clicks v1 files lack the v2 columns: they read as null.
            out.append(tuple(typed(r.get(c["name"]), c) for c in schema["columns"]))
    return sorted(out, key=repr)


# format name → generate flags and the file ending they give.
FORMATS = {
    "parquet": (["--format", "parquet"], ".parquet"),
    "jsonl": (["--format", "jsonl"], ".jsonl"),
    "csv": (["--format", "csv"], ".csv"),
    "jsonl.gz": (["--format", "jsonl", "--compression", "gzip"], ".jsonl.gz"),
    "csv.zst": (["--format", "csv", "--compression", "zstd"], ".csv.zst"),
}


@pytest.fixture(scope="module")
def lakes(binary, tmp_path_factory):
    base = tmp_path_factory.mktemp("formats")
    return {name: generate(binary, base / name.replace(".", "-"), *FLAGS, *flags) for name, (flags, _) in FORMATS.items()}


@pytest.mark.parametrize("table", ["users", "stores", "sales", pytest.param("clicks", marks=pytest.mark.slow)])
def test_text_formats_hold_the_parquet_values(lakes, table):
    expected = rows(lakes["parquet"], table, "parquet")
    assert len(expected) > 100
    for fmt in ("jsonl", "csv", "jsonl.gz", "csv.zst"):
        paths = [f["path"] for f in load_manifest(lakes[fmt])["files"]]
        assert all(p.endswith(FORMATS[fmt][1]) for p in paths if not p.startswith("_truth/")), paths[:3]
        got = rows(lakes[fmt], table, fmt)
        assert len(got) == len(expected), f"{fmt} {table}"
        for a, b in zip(got, expected):
            assert a == b, f"{fmt} {table}: {a} != {b}"


@pytest.mark.parametrize("fmt", ["jsonl.gz", "csv.zst"])
def test_duckdb_reads_compressed_text_lakes(lakes, fmt):
    import duckdb

    lake = lakes[fmt]
    reader = "read_json_auto" if fmt.startswith("jsonl") else "read_csv_auto"
    (n,) = duckdb.sql(f"select count(*) from {reader}('{lake}/clicks/*/*/*{FORMATS[fmt][1]}')").fetchone()
    assert n == sum(f["rows"] for f in load_manifest(lake)["files"] if f["domain"] == "clicks")
