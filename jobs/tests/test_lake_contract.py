"""The producer's lakes follow `schemas/lake/`: the manifests and dataset
claims of real runs (Parquet and JSON lines with dirty data, records sent
to stdout, real-time micro-batches, a run stopped early, two shards, a run
interrupted and resumed) validate against the JSON Schemas, and every key
in them is one the layout names, in its table's partitions. A manifest that
drifts from the contract is rejected."""

from __future__ import annotations

import copy
import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from marketpulse_jobs import contracts
from marketpulse_testkit import DIRTY, generate
from referencing import Registry, Resource

SMALL = ["--quiet", "--scale", "0.001", "--days", "1", "--start", "2024-01-01", "--threads", "1"]
URN = "urn:marketpulse:lake:"


def validator(ref: str) -> Draft202012Validator:
    """A validator of the schema `ref` names (`manifest`, `layout#/$defs/dataFile`
    ...), resolving the lake schemas' references to each other."""
    schemas = contracts.json_schemas()
    registry = Registry().with_resources((i, Resource.from_contents(s)) for i, s in schemas.items())
    return Draft202012Validator({"$ref": URN + ref}, registry=registry)


MANIFEST = validator("manifest")
DATASET = validator("dataset")
LAYOUT = validator("layout")


def errors(v: Draft202012Validator, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


def keys(lake: Path) -> list[str]:
    return sorted(str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file())


def manifests(lake: Path) -> list[dict]:
    layout = contracts.layout()
    found = [json.loads((lake / k).read_text()) for k in keys(lake) if layout.is_manifest(k)]
    assert found, f"no manifest in {lake}"
    return found


def stop_midway(binary: Path, out: Path, *args: str) -> None:
    """Starts a run, interrupts it once its journal shows delivered files,
    and waits for it to write its partial manifest."""
    layout = contracts.layout()
    proc = subprocess.Popen([binary, "generate", "--out", out, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any(layout.kind_of(k) == "journalSegment" for k in keys(out)):
        assert proc.poll() is None, f"the run ended before it could be interrupted: {proc.stderr.read()!r}"
        assert time.monotonic() < deadline, "the run never delivered a file"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)


@pytest.fixture(scope="module")
def runs(binary, lakes, tmp_path_factory) -> dict[str, Path]:
    """Lakes of the runs whose bookkeeping is checked, by name."""
    root = tmp_path_factory.mktemp("contract")
    made = {"parquet, dirty": lakes("parquet"), "jsonl, dirty": lakes("jsonl")}
    made["records to stdout"] = generate(binary, root / "stdout", *SMALL, "--sink", "stdout", config=DIRTY)
    realtime = ["--mode", "realtime", "--speedup", "50000", "--flush-seconds", "900", "--domains", "sales,clicks"]
    made["real-time micro-batches"] = generate(
        binary, root / "realtime", *SMALL, *realtime, "--format", "jsonl", "--compression", "gzip", config=DIRTY
    )
    made["stopped by --duration"] = generate(
        binary, root / "duration", *SMALL, "--sink", "stdout", "--mode", "realtime", "--rate", "1000", "--duration", "1"
    )
    for index in ("0", "1"):
        generate(binary, root / "shards", *SMALL, "--format", "csv", "--shard-count", "2", "--shard-index", index)
    made["two shards"] = root / "shards"
    # Long enough (seconds) to be interrupted once its journal shows files.
    long = ["--quiet", "--scale", "0.05", "--days", "6", "--start", "2024-01-01", "--threads", "1"]
    stop_midway(binary, root / "resumed", *long)
    made["interrupted"] = shutil.copytree(root / "resumed", root / "interrupted")
    made["resumed"] = generate(binary, root / "resumed", *long, "--resume")
    return made


RUNS = [
    "parquet, dirty",
    "jsonl, dirty",
    "records to stdout",
    "real-time micro-batches",
    "stopped by --duration",
    "two shards",
    "interrupted",
    "resumed",
]


def test_the_contract_files_are_valid_json_schemas():
    schemas = contracts.json_schemas()
    assert sorted(schemas) == sorted(URN + n for n in ("dataset", "layout", "manifest", "spec", "tables"))
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    # The examples of each kind of key are of that kind, and of no other.
    layout = contracts.layout()
    for kind, definition in schemas[URN + "layout"]["$defs"].items():
        for example in definition.get("examples", []):
            assert errors(validator(f"layout#/$defs/{kind}"), example) == [], (kind, example)
            if kind in contracts.KEY_KINDS:
                assert layout.kind_of(example) == kind, example
    doc = json.loads((contracts.lake_dir() / "tables.json").read_text())
    assert errors(validator("tables"), doc) == []


@pytest.mark.parametrize("name", RUNS)
def test_manifests_and_claims_of_real_runs_follow_the_schemas(runs, name):
    lake = runs[name]
    found = manifests(lake)
    for m in found:
        assert errors(MANIFEST, m) == [], name
    claim = json.loads((lake / contracts.layout().dataset_claim).read_text())
    assert errors(DATASET, claim) == [], name
    assert {m["run"] for m in found} == {claim["run"]} and all(m["spec"] == claim["spec"] for m in found)
    complete = {m["complete"] for m in found}
    expected = {"stopped by --duration": {False}, "interrupted": {False}}.get(name, {True})
    assert complete == expected, name
    if name == "two shards":
        assert sorted((m["shard_index"], m["shard_count"]) for m in found) == [(0, 2), (1, 2)]
    if name == "records to stdout":
        assert {f.get("sink") for f in found[0]["files"] if f["domain"] != "truth"} == {"stdout"}


@pytest.mark.parametrize("name", RUNS)
def test_every_key_of_a_lake_is_one_the_layout_names(runs, name):
    lake = runs[name]
    layout = contracts.layout()
    tables = contracts.tables()
    listed = {f["path"]: f for m in manifests(lake) for f in m["files"]}
    kinds = set()
    for key in keys(lake):
        assert errors(LAYOUT, key) == [], key
        kind = layout.kind_of(key)
        kinds.add(kind)
        if kind == "dataFile":
            assert key in listed, f"{key} is not in a manifest"
        if kind in ("dataFile", "truthFile"):
            table, *partition, _ = key.removeprefix("_truth/").split("/")
            # Each file sits in its table's partitions, named as tables.json says.
            assert tuple(p.split("=", 1)[0] for p in partition) == tables[table].partitions, key
        shard = layout.shard_of(key)
        if shard:
            assert shard.run in {m["run"] for m in manifests(lake)}
    assert {"manifestFile", "datasetClaim"} <= kinds, name
    for path, f in listed.items():
        table = path.removeprefix("_truth/").split("/", 1)[0]
        assert (f["domain"] == "truth") == path.startswith("_truth/"), path
        assert table in tables, path
        assert path.removeprefix("_truth/").startswith(f"{table}/{f['partition']}/part-"), path
        if "sink" not in f:
            assert (lake / path).stat().st_size == f["bytes"], path
        elif f["domain"] != "truth":
            assert not (lake / path).exists(), f"{path}: records of a sink are no file"


def test_each_kind_of_run_writes_its_own_kinds_of_key(runs):
    """The runs above reach every kind of data and truth file name."""
    names = {key for lake in runs.values() for key in keys(lake)}
    assert any(re.search(r"/part-\d{8}-\d{2}-m\d{4}\.jsonl\.gz$", k) for k in names)  # micro-batches
    assert any(re.search(r"/part-\d{8}-\d{4}\.csv$", k) for k in names)  # snapshots
    assert any(k.startswith("_truth/") for k in names)
    assert any(contracts.layout().kind_of(k) == "journalSegment" for k in keys(runs["interrupted"]))
    assert not any(contracts.layout().kind_of(k) == "journalSegment" for k in keys(runs["resumed"]))


def test_the_data_file_pattern_takes_exactly_the_declared_extensions():
    layout = contracts.layout()
    for fmt in ("parquet", "jsonl", "csv", "json", "avro"):
        for codec in ("", ".gz", ".zst", ".snappy", ".bz2"):
            ext = fmt + codec
            key = f"sales/ingest_date=2024-01-01/hour=05/part-20240101-05-0000.{ext}"
            assert (layout.kind_of(key) == "dataFile") == (ext in layout.extensions), ext


@pytest.mark.parametrize(
    "key",
    [
        "sales/ingest_date=2024-01-01/hour=24/part-20240101-24-0000.parquet",  # no hour 24
        "sales/ingest_date=2024-01-01/part-20240101-0000.parquet",  # an event file without its hour
        "Sales/ingest_date=2024-01-01/hour=05/part-20240101-05-0000.parquet",
        "sales/ingest_date=2024-01-01/hour=05/20240101-05-0000.parquet",
        "_truth/users/snapshot_date=2024-01-01/part-20240101-0000.csv",  # snapshots carry no defects
        "_manifests/abc-shard-00000-of-00001.json",  # a run id is 16 hex digits
        "_manifests/0123456789abcdef-shard-0-of-1.json",
        "_manifests/notes.txt",
    ],
)
def test_keys_the_producer_never_writes_are_rejected(key):
    assert errors(LAYOUT, key) != []
    assert contracts.layout().kind_of(key) is None


def _data_entry(m: dict) -> dict:
    return next(f for f in m["files"] if f["domain"] != "truth")


def _truth_entry(m: dict) -> dict:
    return next(f for f in m["files"] if f["domain"] == "truth")


MUTATIONS = {
    "an unknown top-level key": lambda m: m.update(written_by="someone"),
    "no complete flag": lambda m: m.pop("complete"),
    "a negative shard index": lambda m: m.update(shard_index=-1),
    "a short run id": lambda m: m.update(run="abc123"),
    "another producer": lambda m: m.update(producer="other"),
    "a world setting the schema lacks": lambda m: m["spec"]["world"].update(new_knob=1),
    "a spec without its seed": lambda m: m["spec"].pop("seed"),
    "an unknown format": lambda m: m["spec"].update(format="avro"),
    "an unknown defect kind": lambda m: _data_entry(m).update(defects={"cosmic_ray": 1}),
    "a zero defect count": lambda m: _data_entry(m).update(defects={"late": 0}),
    "an uppercase digest": lambda m: _data_entry(m).update(sha256=_data_entry(m)["sha256"].upper()),
    "a data path outside the layout": lambda m: _data_entry(m).update(path="sales/part-0.parquet"),
    "a partition outside the layout": lambda m: _data_entry(m).update(partition="day=2024-01-01"),
    "negative rows": lambda m: _data_entry(m).update(rows=-1),
    "a file entry with an unknown key": lambda m: _data_entry(m).update(compressed=True),
    "a truth sidecar with a sink": lambda m: _truth_entry(m).update(sink="stdout"),
    "a truth sidecar at a data path": lambda m: _truth_entry(m).update(path=_data_entry(m)["path"]),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_a_manifest_that_drifts_from_the_contract_is_rejected(lakes, mutation):
    (real,) = manifests(lakes("parquet"))
    assert errors(MANIFEST, real) == []
    wrong = copy.deepcopy(real)
    MUTATIONS[mutation](wrong)
    assert errors(MANIFEST, wrong) != [], mutation


def test_a_claim_that_drifts_from_the_contract_is_rejected(lakes):
    claim = json.loads((lakes("parquet") / contracts.layout().dataset_claim).read_text())
    assert errors(DATASET, claim) == []
    for wrong in ({**claim, "owner": "x"}, {"run": claim["run"]}, {**claim, "spec": {**claim["spec"], "days": 0}}):
        assert errors(DATASET, wrong) != []
