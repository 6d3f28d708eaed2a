"""The whole pipeline (generate -> silver -> gold -> Redshift marts) over
Black Friday with its layers on moto's S3, then the Redshift SQL on its
local stand-in: the DDL's layout, COPY, UNLOAD and every BI query against
an independent answer from the clean lake."""

import re
import subprocess
from pathlib import Path

import boto3
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest
import sqlglot
from marketpulse_jobs.utils import gold_schemas
from marketpulse_local import pipeline
from marketpulse_local.redshift import RedshiftError, RedshiftLocal
from marketpulse_testkit import REPO, reference
from marketpulse_testkit.spark import s3a_jars

SQL = REPO / "jobs" / "redshift" / "sql"
# Black Friday 2025, every layer in a bucket of moto's S3.
SETTINGS = ["--seed", "7", "--scale", "0.001", "--start", "2025-11-28", "--days", "1"]
LAKE = "s3://pipeline/run"
REDSHIFT_TYPES = {
    "int64": "BIGINT",
    "int32": "INTEGER",
    "string": "VARCHAR",
    "date": "DATE",
    "timestamp_us_utc": "TIMESTAMP",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
}


@pytest.fixture(scope="module")
def piped(spark, binary, moto_s3, tmp_path_factory):
    """One pipeline run: layers on moto's S3, report and marts in a folder."""
    if not s3a_jars():
        pytest.skip("hadoop-aws jars not installed (make test installs them into .venv/jars)")
    boto3.client("s3", endpoint_url=moto_s3).create_bucket(Bucket="pipeline")
    root = tmp_path_factory.mktemp("pipeline")
    argv = ["--dir", str(root), "--lake", LAKE, "--endpoint-url", moto_s3, "--binary", str(binary), *SETTINGS]
    return root, pipeline.run(pipeline.parse_args(argv))


def _s3fs(endpoint: str):
    return pafs.S3FileSystem(endpoint_override=endpoint.split("://", 1)[1], scheme="http")


@pytest.fixture(scope="module")
def warehouse(piped, moto_s3):
    """The pipeline's marts, with the Spectrum schema set up again (its S3
    views live in the session that made them)."""
    root, _ = piped
    rs = RedshiftLocal(
        str(root / "warehouse.duckdb"),
        params={"iam_role": pipeline.IAM_ROLE, "glue_gold_database": pipeline.GLUE_GOLD_DATABASE},
        catalog={pipeline.GLUE_GOLD_DATABASE: f"{LAKE}/gold"},
        s3_endpoint=moto_s3,
    )
    rs.run_file(SQL / "serve" / "external_schema.sql")
    return rs


@pytest.fixture(scope="module")
def clean(binary, piped, moto_s3, tmp_path_factory):
    """The lake of the same settings without dirt, and the dirty lake's truth."""
    out = tmp_path_factory.mktemp("clean-bf")
    subprocess.run([binary, "generate", "--out", out / "lake", "--quiet", *SETTINGS], check=True, capture_output=True)
    s3 = boto3.client("s3", endpoint_url=moto_s3)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="pipeline", Prefix="run/raw/_truth/"):
        for o in page.get("Contents", []):
            target = out / "dirty" / o["Key"][len("run/raw/") :]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file("pipeline", o["Key"], str(target))
    return reference.connect(out / "lake", out / "dirty")


def test_the_report_balances_and_shows_every_stage(piped, moto_s3):
    root, report = piped
    assert report["balance"] and all(report["balance"].values()), report["balance"]
    stages = report["stages"]
    assert stages["quarantined"]["sales"] > 0 and stages["duplicates_removed"]["clicks"] > 0
    assert stages["marts"] == stages["gold"] and all(n > 0 for n in stages["gold"].values())
    assert report["producer"]["seed"] == 7 and report["producer"]["dirty"]["malformed"] == pipeline.DIRTY["malformed"]
    assert (root / "report.json").is_file()
    screen = pipeline.render(report)
    assert len(screen.splitlines()) <= 30 and "FAIL" not in screen
    s3 = boto3.client("s3", endpoint_url=moto_s3)
    keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="pipeline") for o in page["Contents"]}
    for layer in ("raw/", "silver/", "quarantine/", "gold/", "unload/"):
        assert any(k.startswith(f"run/{layer}") for k in keys), layer
    assert "run/_bookmarks/silver_to_gold.json" in keys


def test_a_local_lake_is_cleared_listed_and_read_like_a_bucket(tmp_path):
    lake = pipeline.Lake(str(tmp_path))
    (tmp_path / "raw" / "_manifests").mkdir(parents=True)
    (tmp_path / "raw" / "_manifests" / "x.json").write_text('{"a": 1}')
    (tmp_path / "gold").mkdir()
    assert lake.names("raw/") == ["raw/_manifests/x.json"]
    assert lake.read_json("raw/_manifests/x.json") == {"a": 1}
    assert lake.spark("raw") == lake.uri("raw") == str(tmp_path / "raw")
    lake.clear(["raw", "gold"])
    assert not (tmp_path / "raw").exists() and not (tmp_path / "gold").exists()
    assert pipeline.Lake("s3://b/p").spark("gold") == "s3a://b/p/gold"


def test_ddl_columns_types_and_nullability_follow_schemas_gold():
    gold = gold_schemas()
    created = {}
    for tree in sqlglot.parse((SQL / "ddl" / "marts.sql").read_text(), read="redshift"):
        if tree.kind != "TABLE":
            continue
        cols = [c for c in tree.this.expressions if isinstance(c, sqlglot.exp.ColumnDef)]
        created[tree.this.this.name] = [
            (c.name, c.args["kind"].sql("redshift"), any(isinstance(k.kind, sqlglot.exp.NotNullColumnConstraint)
                                                         for k in c.args.get("constraints") or []))
            for c in cols
        ]  # fmt: skip
    assert set(created) == set(gold)
    for table, schema in gold.items():
        want = []
        for c in schema.columns:
            kind = c.type.upper() if c.type.startswith("decimal") else REDSHIFT_TYPES[c.type]
            want.append((c.name, kind, not c.nullable))
        got = [(n, re.sub(r"VARCHAR\(\d+\)", "VARCHAR", t).replace("DOUBLE PRECISION", "DOUBLE").replace(" ", ""), nn)
               for n, t, nn in created[table]]  # fmt: skip
        assert got == [(n, k.replace(" ", ""), nn) for n, k, nn in want], table


def test_the_stand_in_keeps_the_layout_the_ddl_asks_for():
    rs = RedshiftLocal()
    rs.run_file(SQL / "ddl" / "marts.sql")
    assert rs.tables["marts.dim_store"].diststyle == "ALL"
    assert rs.tables["marts.fct_sales"].distkey == "transaction_id"
    assert rs.tables["marts.fct_sales"].sortkey == ["sale_date", "store_id"]
    assert rs.tables["marts.fct_sales"].encodings["sale_date"] == "RAW"
    with pytest.raises(RedshiftError, match="sort key 'nope'"):
        rs.execute("CREATE TABLE t (a INT ENCODE AZ64) SORTKEY (nope)")
    with pytest.raises(RedshiftError, match="no ENCODE"):
        rs.execute("CREATE TABLE t2 (a INT)")


def test_copy_loads_gold_and_refuses_a_column_count_mismatch(piped, moto_s3):
    _, report = piped
    rs = RedshiftLocal(params={"iam_role": pipeline.IAM_ROLE}, s3_endpoint=moto_s3)
    rs.execute("CREATE TABLE narrow (store_id INT ENCODE AZ64, store_name VARCHAR(10) ENCODE ZSTD)")
    with pytest.raises(RedshiftError, match="columns, the table 2"):
        rs.execute(f"COPY narrow FROM '{LAKE}/gold/dim_store/' IAM_ROLE 'arn:x' FORMAT AS PARQUET")
    with pytest.raises(RedshiftError, match="no value for placeholder"):
        rs.execute("COPY narrow FROM '{{ gold_uri }}/x/' IAM_ROLE 'arn:x' FORMAT AS PARQUET")
    with pytest.raises(RedshiftError, match="no Parquet files under"):
        rs.execute(f"COPY narrow FROM '{LAKE}/gold/nothing/' IAM_ROLE 'arn:x' FORMAT AS PARQUET")
    rs.run_file(SQL / "ddl" / "marts.sql")
    rs.params["gold_uri"] = f"{LAKE}/gold"
    loaded = rs.run_file(SQL / "load" / "copy_marts.sql")
    assert sum(n for n in loaded if n) == sum(report["stages"]["gold"].values())
    assert rs.copied == {f"stage_{t}": n for t, n in report["stages"]["gold"].items()}
    assert marts(rs) == report["stages"]["gold"]


def marts(rs: RedshiftLocal) -> dict[str, int]:
    return {t: rs.con.execute(f"SELECT count(*) FROM marts.{t}").fetchone()[0] for t in gold_schemas()}


def test_a_failed_copy_leaves_every_mart_with_the_last_load(piped, moto_s3):
    """copy_marts.sql stages all six marts, then swaps them in one
    transaction: with gold's last table missing, its COPY fails, and every
    mart keeps the rows of the load before. The same file then loads whole."""
    _, report = piped
    s3 = boto3.client("s3", endpoint_url=moto_s3)
    last = "conversion_rates"  # copy_marts.sql stages it last
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="pipeline", Prefix="run/gold/"):
        for o in page["Contents"]:
            if not o["Key"].startswith(f"run/gold/{last}/"):
                target = o["Key"].replace("run/gold/", "run/gold-without-one/", 1)
                s3.copy_object(Bucket="pipeline", Key=target, CopySource={"Bucket": "pipeline", "Key": o["Key"]})
    rs = RedshiftLocal(params={"iam_role": pipeline.IAM_ROLE}, s3_endpoint=moto_s3)
    rs.run_file(SQL / "ddl" / "marts.sql")
    rs.params["gold_uri"] = f"{LAKE}/gold"
    rs.run_file(SQL / "load" / "copy_marts.sql")
    # Yesterday's load: one table changed by hand, so a swap would show.
    rs.con.execute("DELETE FROM marts.fct_sales WHERE line_number > 1")
    yesterday = marts(rs)
    assert yesterday["fct_sales"] < report["stages"]["gold"]["fct_sales"]
    rs.params["gold_uri"] = f"{LAKE}/gold-without-one"
    with pytest.raises(RedshiftError, match=f"COPY stage_{last}: no Parquet files"):
        rs.run_file(SQL / "load" / "copy_marts.sql")
    assert marts(rs) == yesterday and not rs.in_transaction
    rs.params["gold_uri"] = f"{LAKE}/gold"
    rs.run_file(SQL / "load" / "copy_marts.sql")
    assert marts(rs) == report["stages"]["gold"]


def test_unload_writes_parquet_that_reads_back_equal(warehouse, moto_s3):
    fs = _s3fs(moto_s3)
    for table, key in (("fct_sales", "sale_date"), ("fct_clicks_agg", "activity_date")):
        folder = f"pipeline/run/unload/{table}"
        parts = sorted(i.base_name for i in fs.get_file_info(pafs.FileSelector(folder)))
        assert parts and all(p.startswith(f"{key}=") for p in parts)
        back = ds.dataset(folder, filesystem=fs, format="parquet", partitioning="hive").to_table()
        names = [n for n in back.column_names if n != key]
        # Not inside the files: Redshift leaves partition columns out.
        assert key not in ds.dataset(folder, filesystem=fs, format="parquet").schema.names
        con = warehouse.con
        con.register("back", back)
        cols = ", ".join(names)
        diff = con.execute(
            f"SELECT count(*) FROM ((SELECT CAST({key} AS VARCHAR), {cols} FROM back EXCEPT ALL "
            f"SELECT CAST({key} AS VARCHAR), {cols} FROM marts.{table}) UNION ALL "
            f"(SELECT CAST({key} AS VARCHAR), {cols} FROM marts.{table} EXCEPT ALL "
            f"SELECT CAST({key} AS VARCHAR), {cols} FROM back))"
        ).fetchone()[0]
        assert diff == 0 and back.num_rows == con.execute(f"SELECT count(*) FROM marts.{table}").fetchone()[0]


QUERIES = sorted(p for p in (SQL / "queries").glob("*.sql"))


def test_there_are_at_least_eight_bi_queries():
    assert len(QUERIES) >= 8


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.stem)
def test_bi_query_answers_as_the_clean_lake_does(path: Path, warehouse, clean):
    _, got = warehouse.query(path.read_text())
    want = reference.bi(clean, path.stem.split("_", 1)[1])
    assert len(want) > 0
    diff = reference.first_difference(got, want)
    assert diff is None, f"{path.stem}: {diff}"


def test_bad_input_is_one_line_and_clears_nothing(tmp_path, capsys):
    kept = tmp_path / "gold" / "keep.parquet"
    kept.parent.mkdir()
    kept.write_text("from an earlier run")
    assert pipeline.main(["--dir", str(tmp_path), "--binary", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "marketpulse binary" in err[0] and "does not exist" in err[0]
    assert kept.read_text() == "from an earlier run"
    with pytest.raises(SystemExit) as bad:
        pipeline.parse_args(["--lake", "/local"])
    assert bad.value.code == 2


def test_a_day_above_the_quality_gate_stops_before_gold_and_keeps_the_marts(spark, binary, tmp_path, capsys):
    """The producer's [dirty] malformed rate at 20%: every event table
    quarantines about that much, above quality_gate.json's 5%. The run
    exits 3 with one line naming each table, its rate and the threshold,
    and the last good gold and marts are left as they were."""
    (tmp_path / "dirty.toml").write_text("[dirty]\nmalformed = 0.2\n")
    kept = {tmp_path / "gold" / "sales_by_store" / "keep.parquet": "gold of the last good day",
            tmp_path / "warehouse.duckdb": "the marts of the last good day"}  # fmt: skip
    for path, text in kept.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    argv = ["--dir", str(tmp_path), "--binary", str(binary), "--config", str(tmp_path / "dirty.toml"), *SETTINGS]
    assert pipeline.main(argv) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for table in ("sales", "clicks"):
        found = re.search(rf"{table} quarantined (\d+\.\d+)% \([\d,]+ of [\d,]+ records\), above its threshold of 5\.00%", err[0])
        assert found and 15 < float(found.group(1)) < 25, err[0]
    assert "gold and the marts are unchanged" in err[0]
    assert {p: p.read_text() for p in kept} == kept
    assert (tmp_path / "silver-metrics.json").is_file() and not (tmp_path / "report.json").exists()


def test_a_day_within_the_quality_gate_reaches_gold(piped):
    """The pipeline's default dirt (1% malformed, 0.5% near-duplicates…) passes."""
    _, report = piped
    assert set(report["quality_gate"]) >= {"sales", "clicks", "users", "stores"}
    assert all("within its threshold of 5.00%" in line for line in report["quality_gate"].values()), report["quality_gate"]
