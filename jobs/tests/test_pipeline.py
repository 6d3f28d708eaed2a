"""The whole pipeline (generate -> silver -> gold -> Redshift marts) over
days around Black Friday, then the Redshift SQL on its local stand-in: the
DDL's layout, COPY, UNLOAD and every BI query against an independent
answer from the clean lake."""

import re
import subprocess
from pathlib import Path

import pyarrow.dataset as ds
import pytest
import reference
import sqlglot
from conftest import REPO
from marketpulse_jobs import pipeline
from marketpulse_jobs.redshift_local import RedshiftError, RedshiftLocal
from marketpulse_jobs.utils import gold_schemas

SQL = REPO / "jobs" / "redshift" / "sql"
SETTINGS = ["--seed", "7", "--scale", "0.002", "--start", "2025-11-26", "--days", "3"]
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
def piped(spark, binary, tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    opts = pipeline.parse_args(["--dir", str(root / "p"), "--binary", str(binary), *SETTINGS])
    report = pipeline.run(opts)
    return root / "p", report


@pytest.fixture(scope="module")
def warehouse(piped):
    root, _ = piped
    return RedshiftLocal(str(root / "warehouse.duckdb"))


@pytest.fixture(scope="module")
def clean(binary, piped, tmp_path_factory):
    """The lake of the same settings without dirt."""
    out = tmp_path_factory.mktemp("clean-bf") / "lake"
    subprocess.run([binary, "generate", "--out", out, "--quiet", *SETTINGS], check=True, capture_output=True)
    return reference.connect(out, piped[0] / "raw")


def test_the_report_balances_and_shows_every_stage(piped):
    root, report = piped
    assert report["balance"] and all(report["balance"].values()), report["balance"]
    stages = report["stages"]
    assert stages["quarantined"]["sales"] > 0 and stages["duplicates_removed"]["clicks"] > 0
    assert stages["marts"] == stages["gold"] and all(n > 0 for n in stages["gold"].values())
    assert report["producer"]["seed"] == 7 and report["producer"]["dirty"]["malformed"] == pipeline.DIRTY["malformed"]
    assert (root / "report.json").is_file()
    screen = pipeline.render(report)
    assert len(screen.splitlines()) <= 30 and "FAIL" not in screen


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


def test_copy_loads_gold_and_refuses_a_column_count_mismatch(piped, tmp_path):
    root, report = piped
    rs = RedshiftLocal(params={"iam_role": pipeline.IAM_ROLE})
    rs.execute("CREATE TABLE narrow (store_id INT ENCODE AZ64, store_name VARCHAR(10) ENCODE ZSTD)")
    with pytest.raises(RedshiftError, match="columns, the table 2"):
        rs.execute(f"COPY narrow FROM '{root}/gold/dim_store/' IAM_ROLE 'arn:x' FORMAT AS PARQUET")
    with pytest.raises(RedshiftError, match="no value for placeholder"):
        rs.execute("COPY narrow FROM '{{ gold_uri }}/x/' IAM_ROLE 'arn:x' FORMAT AS PARQUET")
    rs.run_file(SQL / "ddl" / "marts.sql")
    rs.params["gold_uri"] = str(root / "gold")
    loaded = rs.run_file(SQL / "load" / "copy_marts.sql")
    assert sum(n for n in loaded if n) == sum(report["stages"]["gold"].values())
    assert rs.copied == {f"marts.{t}": n for t, n in report["stages"]["gold"].items()}


def test_unload_writes_parquet_that_reads_back_equal(piped, warehouse):
    root, _ = piped
    for table, key in (("fct_sales", "sale_date"), ("fct_clicks_agg", "activity_date")):
        folder = root / "unload" / table
        parts = sorted(p.name for p in folder.iterdir())
        assert parts and all(p.startswith(f"{key}=") for p in parts)
        back = ds.dataset(str(folder), format="parquet", partitioning="hive").to_table()
        names = [n for n in back.column_names if n != key]
        assert key not in ds.dataset(str(folder), format="parquet").schema.names  # not inside the files
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
