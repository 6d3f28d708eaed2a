"""Silver -> gold through its Glue entry point on the local Glue stand-in:
gold from the dirty lake equals an independent DuckDB computation over the
clean lake, and bookmarks process each new silver partition once."""

import json
import os
from pathlib import Path

import duckdb
import pytest
from marketpulse_jobs.silver_to_gold import GOLD_TABLES, parse_fx
from marketpulse_jobs.utils import JobError, gold_schemas
from marketpulse_local import glue
from marketpulse_testkit import REPO, reference
from marketpulse_testkit.jobs import DAYS, run_job

ENTRY = REPO / "jobs" / "entrypoints" / "silver_to_gold.py"
GOLD = gold_schemas()


def glue_run(out: Path, gold: Path, name: str, fx: str) -> dict:
    """One run of the Glue job with bookmarks on; its metrics record."""
    metrics = out / f"{name}.json"
    argv = ["--JOB_NAME", "silver_to_gold", "--job-bookmark-option", "job-bookmark-enable"]
    argv += ["--silver", str(out / "silver"), "--gold", str(gold), "--metrics", str(metrics), "--fx_per_usd", fx]
    glue.run_script(str(ENTRY), argv)
    return json.loads(metrics.read_text())


@pytest.fixture(scope="module")
def staged(spark, lakes, tmp_path_factory):
    """Silver landed day by day, with a gold run after each step:
    run1 after day 1, run2 with nothing new, run3 after day 2, and a run
    after a bookmark reset into a fresh gold folder."""
    lake = lakes("parquet")
    fx = ",".join(f"{k}={v}" for k, v in reference.fx_of(lake).items())
    out = tmp_path_factory.mktemp("s2g")
    saved = os.environ.get(glue.STORE_ENV)
    os.environ[glue.STORE_ENV] = str(out / "bookmarks")
    try:
        run_job(spark, lake, out, "--ingest-dates", DAYS[0])
        runs = {"run1": glue_run(out, out / "gold", "run1", fx)}
        before = _files(out / "gold")
        runs["run2"] = glue_run(out, out / "gold", "run2", fx)
        runs["unchanged_by_run2"] = before == _files(out / "gold")
        run_job(spark, lake, out, "--ingest-dates", DAYS[1])
        runs["run3"] = glue_run(out, out / "gold", "run3", fx)
        glue.reset_job_bookmark("silver_to_gold")
        runs["reset"] = glue_run(out, out / "gold-reset", "reset", fx)
    finally:
        if saved is None:
            os.environ.pop(glue.STORE_ENV, None)
        else:
            os.environ[glue.STORE_ENV] = saved
    return out, runs


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def _silver_leaves(out: Path, table: str, marker: str | None = None) -> set[str]:
    leaves = {str(p.parent.relative_to(out / "silver" / table)) for p in (out / "silver" / table).rglob("*.parquet")}
    return {leaf for leaf in leaves if marker is None or marker in leaf}


def _gold_rows(gold: Path, table: str) -> list[tuple]:
    # Timestamps as UTC wall time (DuckDB hands time-zoned ones to pytz).
    cols = ", ".join(
        f"CAST({c.name} AS TIMESTAMP)" if c.type == "timestamp_us_utc" else c.name for c in GOLD[table].columns
    )
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    source = f"read_parquet('{gold}/{table}/**/*.parquet', hive_partitioning = false)"
    return con.execute(f"SELECT {cols} FROM {source} ORDER BY ALL").fetchall()


def test_bookmarks_process_each_new_partition_once(staged):
    out, runs = staged
    first, second, third = runs["run1"], runs["run2"], runs["run3"]
    for source in ("sales", "clicks"):
        assert set(first["new_partitions"][source]) and all(DAYS[0] in p for p in first["new_partitions"][source])
        assert second["new_partitions"][source] == []
        # Run 3 took exactly the partitions ingest day 2 added, late ones
        # under day 1's events included.
        got = {p.split(f"/silver/{source}/", 1)[1] for p in third["new_partitions"][source]}
        assert got == _silver_leaves(out, source, f"ingest_date={DAYS[1]}")
    assert set(third["days"]["sales"]) == {DAYS[0], DAYS[1]}  # late rows of day 1 landed on day 2
    for table in GOLD_TABLES:
        assert second["tables"][table]["partitions_written"] == 0
    assert runs["unchanged_by_run2"], "a run with no new silver rewrote gold"
    for snapshot in ("users", "stores"):
        assert [p.rsplit("=", 1)[1] for p in third["new_partitions"][snapshot]] == [DAYS[1]]


def test_gold_after_three_runs_equals_one_run_over_everything(staged):
    out, runs = staged
    for source in ("sales", "clicks"):
        assert len(runs["reset"]["new_partitions"][source]) == len(_silver_leaves(out, source))
    for table in GOLD_TABLES:
        diff = reference.first_difference(_gold_rows(out / "gold", table), _gold_rows(out / "gold-reset", table))
        assert diff is None, f"{table}: {diff}"


@pytest.mark.parametrize("table", GOLD_TABLES)
def test_gold_equals_an_independent_computation_over_the_clean_lake(staged, lakes, table):
    out, _ = staged
    con = reference.connect(lakes("clean"), lakes("parquet"))
    want = con.execute(f"SELECT * FROM ({reference.GOLD[table]}) ORDER BY ALL").fetchall()
    got = _gold_rows(out / "gold", table)
    assert len(want) > 0
    diff = reference.first_difference(got, want)
    assert diff is None, f"{table}: {diff}"


def test_gold_files_hold_the_schema_columns_in_order(staged):
    import pyarrow.parquet as pq

    out, _ = staged
    for table, schema in GOLD.items():
        files = sorted((out / "gold" / table).rglob("*.parquet"))
        assert files, table
        assert pq.read_schema(files[0]).names == schema.names, table
        if schema.partitioned_by:
            assert all(f.parent.name.startswith("dt=") for f in files), table


def test_fx_errors_are_one_line(staged, spark, tmp_path):
    out, _ = staged
    for bad in ["EUR", "EUR=x", "eur=0.9", "EUR=-1", ""]:
        with pytest.raises(JobError, match="fx_per_usd"):
            parse_fx(bad)
    os.environ[glue.STORE_ENV] = str(tmp_path / "bookmarks")
    try:
        with pytest.raises(JobError, match="no rate for"):
            glue_run(out, tmp_path / "gold", "nofx", "EUR=0.92")
    finally:
        os.environ.pop(glue.STORE_ENV, None)
    assert not (tmp_path / "bookmarks").exists(), "a failed run moved the bookmark"
    assert not (tmp_path / "gold").exists(), "a failed run wrote gold"


def test_the_entry_point_uses_only_glue_interfaces():
    import ast

    tree = ast.parse(ENTRY.read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported == {"awsglue.context", "awsglue.job", "awsglue.utils", "pyspark.context",
                        "marketpulse_jobs.silver_to_gold"}  # fmt: skip
    calls = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert {"init", "commit"} <= calls


def test_the_stand_in_reads_nothing_new_as_glue_does_without_columns(spark, tmp_path):
    """Glue's frame for a source with nothing new has no column, not even
    the attached file name: run2 of `staged` shows the job handles it."""
    frame = glue.GlueContext(spark.sparkContext).create_dynamic_frame_from_options(
        "s3", {"paths": [str(tmp_path)], "attachFilename": "source_file"}, format="parquet"
    )
    assert frame.toDF().columns == [] and frame.count() == 0


def test_the_job_s_conf_parameter_sets_the_session_as_on_glue(spark, tmp_path):
    """`--conf k=v --conf k2=v2` in one job parameter, as Terraform writes
    it from spark_conf.json, is set on the session before the script runs."""
    from marketpulse_jobs.utils import SESSION_CONF

    rendered = " --conf ".join(f"{k}={v}" for k, v in SESSION_CONF.items())
    assert glue.job_conf(["--JOB_NAME", "j", "--conf", rendered]) == SESSION_CONF
    with pytest.raises(JobError, match="'timeZone' is not spark.NAME=VALUE"):
        glue.job_conf(["--conf", "spark.a=b --conf timeZone"])
    script, seen = tmp_path / "show.py", tmp_path / "seen.txt"
    script.write_text(
        "import sys\nfrom pyspark.sql import SparkSession\n"
        f"open({str(seen)!r}, 'w').write(SparkSession.getActiveSession().conf.get('spark.sql.parquet.compression.codec'))\n"
    )
    spark.conf.set("spark.sql.parquet.compression.codec", "snappy")
    try:
        glue.run_script(str(script), ["--conf", rendered])
        assert seen.read_text() == SESSION_CONF["spark.sql.parquet.compression.codec"] == "zstd"
    finally:
        spark.conf.set("spark.sql.parquet.compression.codec", SESSION_CONF["spark.sql.parquet.compression.codec"])
