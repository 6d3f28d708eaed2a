"""Bronze -> silver, proven against the producer's truth: every malformed
record and near-duplicate loser quarantined with its kind, exact duplicates
removed, late rows placed by event time, and silver equal to the clean lake."""

import csv
import json
import shutil
from collections import Counter

import pytest
from marketpulse_jobs import bronze_to_silver as b2s
from marketpulse_jobs.utils import load_schemas, silver_schema
from marketpulse_testkit.aws import client
from marketpulse_testkit.jobs import DAYS, run_job
from marketpulse_testkit.spark import s3a_jars, s3a_settings
from pyspark.sql import functions as F

EVENTS = {"sales": "transaction_id", "clicks": "event_id"}
MALFORMED = {"null_key", "negative_amount", "unknown_currency", "future_timestamp", "amount_mismatch", "unparseable"}
SCHEMAS = {t: silver_schema(v) for t, v in load_schemas().items()}


@pytest.fixture(scope="module")
def runs(spark, lakes, tmp_path_factory):
    """One job run per lake format, on first use: (output folder, metrics)."""
    done = {}

    def run(name):
        if name not in done:
            out = tmp_path_factory.mktemp(f"b2s-{name}")
            done[name] = (out, run_job(spark, lakes(name), out))
        return done[name]

    return run


def truth(lake, table):
    pairs = []
    for path in sorted((lake / "_truth" / table).rglob("*.csv")):
        with path.open(newline="") as fh:
            pairs += [(int(r["id"]), r["kind"]) for r in csv.DictReader(fh)]
    return pairs


def manifest_rows(lake, table):
    (path,) = (lake / "_manifests").glob("*-shard-*.json")
    return sum(f["rows"] for f in json.loads(path.read_text())["files"] if f["domain"] == table)


def silver(spark, out, table, *extra_cols):
    return spark.read.parquet(str(out / "silver" / table)).select(*SCHEMAS[table].names, *extra_cols)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv", "jsonl.gz"])
def test_quarantine_and_duplicates_match_the_truth(spark, lakes, runs, fmt):
    lake = lakes(fmt)
    out, metrics = runs(fmt)
    for table, id_col in EVENTS.items():
        m = metrics["tables"][table]
        pairs = truth(lake, table)
        kinds = Counter(k for _, k in pairs)
        assert kinds["late"] and kinds["duplicate"] and kinds["near_duplicate"], kinds
        quarantined = spark.read.parquet(str(out / "quarantine" / table)).select("record_id", "reason").collect()
        assert Counter((r.record_id, r.reason) for r in quarantined) == Counter(
            p for p in pairs if p[1] in MALFORMED | {"near_duplicate"}
        ), table
        if fmt.startswith("jsonl"):
            assert m["quarantined_by_rule"].get("unparseable"), m

        rows = silver(spark, out, table)
        ids = Counter(r[0] for r in rows.select(id_col).collect())
        assert max(ids.values()) == 1, "an id twice in silver"
        assert all(ids[i] == 1 for i, k in pairs if k in ("duplicate", "near_duplicate")), "an original lost"
        assert m["duplicates_removed"] == kinds["duplicate"]
        assert m["near_duplicates"] == kinds["near_duplicate"]
        assert m["late_rows"] == kinds["late"]

        # Every record is accounted for, and the lake's own manifest agrees.
        assert m["rows_in"] == manifest_rows(lake, table)
        assert m["silver_rows"] + m["quarantined"] + m["duplicates_removed"] == m["rows_in"]
        assert m["balanced"] is True and m["silver_rows"] == rows.count()


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_silver_is_the_clean_lake(spark, lakes, runs, fmt):
    """Silver holds exactly the clean lake's rows (same seed, no dirt), less
    the records the truth lists as malformed, compared on every column."""
    out, _ = runs(fmt)
    clean = lakes("clean")
    for table, id_col in EVENTS.items():
        malformed = {i for i, k in truth(lakes(fmt), table) if k in MALFORMED}
        assert malformed
        expected = (
            spark.read.schema(b2s_struct(table))
            .parquet(str(clean / table))
            .where(~F.col(id_col).isin(sorted(malformed)))
            .select(*SCHEMAS[table].names)
        )
        got = silver(spark, out, table)
        assert got.count() == expected.count()
        assert got.exceptAll(expected).count() == 0 and expected.exceptAll(got).count() == 0, table
    for table in ("users", "stores"):
        expected = spark.read.schema(b2s_struct(table)).parquet(str(clean / table)).select(*SCHEMAS[table].names)
        got = silver(spark, out, table)
        assert got.count() == expected.count() and got.exceptAll(expected).count() == 0, table


def b2s_struct(table):
    from marketpulse_jobs.utils import struct_type

    return struct_type(SCHEMAS[table])


def test_late_rows_land_in_their_event_partition(spark, lakes, runs):
    """Late records sit under their event day, below the later day they
    landed on; no other record is under another day than its own."""
    out, _ = runs("parquet")
    next_day = 0
    for table, id_col in EVENTS.items():
        late = {i for i, k in truth(lakes("parquet"), table) if k == "late"}
        rows = silver(spark, out, table, "event_date", "ingest_date").select(id_col, "ts", "event_date", "ingest_date")
        found = rows.where(F.col(id_col).isin(sorted(late))).collect()
        assert len(found) == len(late)
        assert all(r.ts.strftime("%Y-%m-%d") == r.event_date <= r.ingest_date for r in found)
        moved = {r[0] for r in rows.where(F.col("event_date") != F.col("ingest_date")).select(id_col).collect()}
        assert moved <= late, "an on-time record under another landing day"
        next_day += len(moved)
    assert next_day, "no record landed a day late"


def test_clicks_v1_and_v2_merge(spark, runs):
    out, _ = runs("parquet")
    v2_only = [c.name for c in SCHEMAS["clicks"].columns if c.name not in load_schemas()["clicks"][0].names]
    assert v2_only
    rows = silver(spark, out, "clicks", "event_date").groupBy("event_date").agg(
        *[F.count(c).alias(c) for c in v2_only], F.count("*").alias("rows")
    )
    by_day = {r.event_date: r for r in rows.collect()}
    assert all(by_day[DAYS[0]][c] == 0 for c in ("device_type", "os")), "v1 rows carry v2 values"
    assert all(by_day[DAYS[1]][c] == by_day[DAYS[1]].rows for c in ("device_type", "os"))


def test_a_second_run_leaves_silver_unchanged(spark, lakes, runs):
    out, first = runs("parquet")
    before = {t: silver(spark, out, t, *b2s.silver_partitions(t)).localCheckpoint() for t in SCHEMAS}
    again = run_job(spark, lakes("parquet"), out)
    for t in SCHEMAS:
        after = spark.read.parquet(str(out / "silver" / t)).select(*before[t].columns)
        assert after.count() == before[t].count() and after.exceptAll(before[t]).count() == 0, t
        assert again["tables"][t]["silver_rows"] == first["tables"][t]["silver_rows"]


def test_day_by_day_equals_both_days_at_once(spark, lakes, runs, tmp_path, fake_aws):
    """Day 2 carries late sales for day 1; processing the days in turn gives the
    same silver and quarantine as one run, and registers the partitions."""
    from moto import mock_aws

    lake = lakes("parquet")
    whole, _ = runs("parquet")
    with mock_aws():
        import boto3

        for day in DAYS:
            run_job(spark, lake, tmp_path, "--ingest-dates", day, "--glue-database", "silver_db")
        glue = boto3.client("glue")
        tables = {t["Name"]: t for t in glue.get_tables(DatabaseName="silver_db")["TableList"]}
        for t, schema in SCHEMAS.items():
            assert [c["Name"] for c in tables[t]["StorageDescriptor"]["Columns"]] == schema.names
            assert [k["Name"] for k in tables[t]["PartitionKeys"]] == b2s.silver_partitions(t)
            parts = glue.get_partitions(DatabaseName="silver_db", TableName=t)["Partitions"]
            on_disk = silver(spark, tmp_path, t, *b2s.silver_partitions(t)).select(*b2s.silver_partitions(t)).distinct()
            assert sorted(p["Values"] for p in parts) == sorted([list(r) for r in on_disk.collect()]), t
            assert f"{t}_quarantine" in tables
    late_for_day1 = silver(spark, tmp_path, "sales", "event_date", "ingest_date").where(
        (F.col("event_date") == DAYS[0]) & (F.col("ingest_date") == DAYS[1])
    )
    assert late_for_day1.count() > 0
    for t in SCHEMAS:
        cols = b2s.silver_partitions(t)
        a, b = silver(spark, tmp_path, t, *cols), silver(spark, whole, t, *cols)
        assert a.count() == b.count() and a.exceptAll(b).count() == 0, t
    for t in EVENTS:
        a = spark.read.parquet(str(tmp_path / "quarantine" / t)).drop("source_file")
        b = spark.read.parquet(str(whole / "quarantine" / t)).drop("source_file")
        assert a.count() == b.count() and a.exceptAll(b).count() == 0, t


def test_rerunning_a_day_replaces_what_it_wrote_before(spark, lakes, runs, tmp_path):
    """A re-run of day 2 with other settings, then with the first ones again,
    leaves no partition of the middle run behind, in silver or quarantine."""
    lake = lakes("parquet")
    first = ["--tables", "sales", "--ingest-dates"]
    run_job(spark, lake, tmp_path, *first, DAYS[0])
    run_job(spark, lake, tmp_path, *first, DAYS[1])
    before = {p: spark.read.parquet(str(tmp_path / p / "sales")).localCheckpoint() for p in ("silver", "quarantine")}
    # An FX table without any real currency sends all of day 2 to quarantine:
    # day 2's silver partitions must go, not keep the first run's rows.
    narrow = run_job(spark, lake, tmp_path, *first, DAYS[1], "--currencies", "XTS")["tables"]["sales"]
    assert narrow["silver_rows"] == 0 and narrow["quarantined_by_rule"]["unknown_currency"] > 100
    left = spark.read.parquet(str(tmp_path / "silver" / "sales")).where(F.col("ingest_date") == DAYS[1])
    assert left.count() == 0, "silver kept day 2 rows that the re-run quarantined"
    run_job(spark, lake, tmp_path, *first, DAYS[1])
    for part, rows in before.items():
        after = spark.read.parquet(str(tmp_path / part / "sales"))
        assert after.count() == rows.count() and after.exceptAll(rows).count() == 0, part


def test_a_file_delivered_again_a_day_later_is_removed(spark, lakes, runs, tmp_path):
    """A day-1 file landing again on day 2 (a redelivery) adds nothing to
    silver: its records are duplicates of what day 1 wrote."""
    lake = tmp_path / "lake"
    shutil.copytree(lakes("parquet"), lake)
    (source,) = sorted((lake / "sales" / f"ingest_date={DAYS[0]}" / "hour=12").glob("*.parquet"))
    target = lake / "sales" / f"ingest_date={DAYS[1]}" / "hour=12" / "part-redelivered.parquet"
    shutil.copy(source, target)
    out = tmp_path / "out"
    run_job(spark, lake, out, "--ingest-dates", DAYS[0], "--tables", "sales")
    day2 = run_job(spark, lake, out, "--ingest-dates", DAYS[1], "--tables", "sales")["tables"]["sales"]
    redelivered = spark.read.parquet(str(target)).count()
    whole, _ = runs("parquet")
    assert day2["rows_in"] == manifest_rows_on(lake, DAYS[1]) + redelivered
    assert day2["balanced"] is True
    a, b = silver(spark, out, "sales"), silver(spark, whole, "sales")
    assert a.count() == b.count() and a.exceptAll(b).count() == 0


def manifest_rows_on(lake, day):
    (path,) = (lake / "_manifests").glob("*-shard-*.json")
    files = json.loads(path.read_text())["files"]
    return sum(f["rows"] for f in files if f["domain"] == "sales" and f"ingest_date={day}/" in f["path"])


def test_reads_and_writes_s3a_on_moto(spark, lakes, runs, moto_s3, tmp_path):
    """The raw lake in an S3 bucket (moto) in, silver and quarantine out to
    S3, through s3a://: the same silver as from a local folder."""
    if not s3a_jars():
        pytest.skip("hadoop-aws jars not installed (make test installs them into .venv/jars)")
    s3 = client("s3", moto_s3)
    for bucket in ("raw", "silver"):
        s3.create_bucket(Bucket=bucket)
    lake = lakes("parquet")
    for path in lake.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), "raw", f"lake/{path.relative_to(lake)}")
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in s3a_settings(moto_s3).items():
        conf.set(key, value)
    metrics = tmp_path / "metrics.json"
    argv = ["--raw", "s3a://raw/lake", "--silver", "s3a://silver/silver", "--quarantine", "s3a://silver/quarantine"]
    assert b2s.main([*argv, "--tables", "sales", "--metrics", str(metrics)], spark=spark) == 0
    assert json.loads(metrics.read_text())["tables"]["sales"]["balanced"] is True
    local, _ = runs("parquet")
    got = spark.read.parquet("s3a://silver/silver/sales").select(*SCHEMAS["sales"].names)
    want = silver(spark, local, "sales")
    assert got.count() == want.count() and got.exceptAll(want).count() == 0
    listed = s3.list_objects_v2(Bucket="silver", Prefix="quarantine/sales/")["KeyCount"]
    assert listed > 0


def test_values_that_do_not_fit_their_type_are_quarantined(spark, lakes, tmp_path):
    """A quantity of 1.5 or an amount with three decimals would be truncated
    or rounded by a plain cast; they go to quarantine as schema_mismatch."""
    lake = tmp_path / "lake"
    shutil.copytree(lakes("jsonl"), lake)
    (path,) = sorted((lake / "sales" / f"ingest_date={DAYS[0]}" / "hour=12").glob("*.jsonl"))
    lines = path.read_text().splitlines()
    rows = [json.loads(line) for line in lines[:2]]
    rows[0]["items"][0]["qty"] = 1.5
    rows[1]["amount"] = 12.345
    broken = {r["transaction_id"] for r in rows}
    path.write_text("\n".join([json.dumps(r) for r in rows] + lines[2:]) + "\n")
    out = tmp_path / "out"
    run_job(spark, lake, out, "--tables", "sales", "--ingest-dates", DAYS[0])
    quarantined = spark.read.parquet(str(out / "quarantine" / "sales")).where(F.col("record_id").isin(sorted(broken)))
    assert sorted((r.record_id, r.reason) for r in quarantined.collect()) == sorted(
        (i, "schema_mismatch") for i in broken
    )
