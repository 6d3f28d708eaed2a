"""Bronze -> silver: the producer's raw lake validated, deduplicated, placed
by event time and compacted into Parquet; every rejected record quarantined
with its reasons; the run's balance checked and its metrics written.

    spark-submit --py-files marketpulse_jobs-*.whl entrypoints/bronze_to_silver.py \\
        --raw s3a://…-raw/ --silver s3a://…-silver/ --quarantine s3a://…-silver/quarantine/

Layout (docs/decisions/ADR-002-silver-layout-for-late-data.md):
- events: `silver/<table>/event_date=D/[event_hour=H/]ingest_date=I/`. Late
  records land in their event partition; the ingest sub-partition makes a
  re-run of ingest day I replace exactly what day I wrote, and nothing that
  other days wrote into the same event partition.
- snapshots: `silver/<table>/snapshot_date=D/`.
- quarantine: `quarantine/<table>/ingest_date=I/` (snapshots: snapshot_date).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from decimal import Decimal

from . import dq
from .raw import RawTable, partitions_of, read_table, select_files
from .utils import (
    JobError,
    Metrics,
    TableSchema,
    job_schema,
    list_files,
    load_schemas,
    read_manifests,
    silver_schema,
    spark_type,
)

TABLE_ORDER = ("users", "stores", "sales", "clicks")
DEFAULT_TARGET_MB = 128
# Bytes per row of zstd Parquet in silver, measured on the producer's data
# (load-tests/results/silver.md); they turn the target file size into rows.
ROW_BYTES = {"sales": 60, "clicks": 30, "users": 30, "stores": 40}


@dataclass
class Options:
    raw: str
    silver: str
    quarantine: str
    tables: tuple[str, ...] = TABLE_ORDER
    ingest_dates: list[str] | None = None
    run_id: str = ""
    target_file_mb: float = DEFAULT_TARGET_MB
    future_tolerance_minutes: float = 5.0
    amount_tolerance: Decimal = Decimal("0.005")
    currencies: frozenset[str] | None = None
    metrics: str | None = None
    glue_database: str | None = None


class BalanceError(Exception):
    """Records in did not equal silver + quarantined + removed duplicates."""


def silver_partitions(table: str) -> list[str]:
    if dq.TABLES[table].ts is None:
        return ["snapshot_date"]
    hourly = ["event_hour"] if table == "clicks" else []
    return ["event_date", *hourly, "ingest_date"]


def quarantine_partitions(table: str) -> list[str]:
    return [partitions_of(table)[0]]


def run(spark, opts: Options) -> dict:
    """Runs the job; returns the metrics record. Raises JobError on bad input
    and when a table's records do not balance."""
    schemas = {t: silver_schema(v) for t, v in load_schemas().items()}
    for t in opts.tables:
        if t not in schemas or t not in dq.TABLES:
            raise JobError(f"unknown table '{t}' (expected {', '.join(TABLE_ORDER)})")
    if not any(select_files(opts.raw, t, opts.ingest_dates) for t in opts.tables):
        dates = f" for ingest dates {','.join(opts.ingest_dates)}" if opts.ingest_dates else ""
        raise JobError(f"no raw files under {opts.raw} for {','.join(opts.tables)}{dates}")
    currencies = opts.currencies
    if currencies is None:
        currencies = _manifest_currencies(opts.raw)
    params = dq.Params(currencies, opts.future_tolerance_minutes, opts.amount_tolerance)
    metrics = Metrics("bronze_to_silver", opts.run_id or time.strftime("b2s-%Y%m%dT%H%M%SZ", time.gmtime()))
    written: dict[str, dict[str, list[dict]]] = {}
    for table in [t for t in TABLE_ORDER if t in opts.tables]:
        started = time.time()
        raw = read_table(spark, opts.raw, table, schemas[table], opts.ingest_dates)
        if raw is None:
            metrics.record(table, {"rows_in": 0, "files_before": 0, "note": "no input files"})
            continue
        values, parts = _process(spark, table, raw, schemas, params, opts, metrics.run_id)
        values["duration_s"] = round(time.time() - started, 3)
        metrics.record(table, values)
        written[table] = parts
    record = metrics.as_dict()
    if opts.glue_database:
        from .catalog import register

        record["catalog"] = register(opts.glue_database, schemas, written, opts)
    for line in metrics.emf_lines():
        print(line, flush=True)
    if opts.metrics:
        _write_text(spark, opts.metrics, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def _manifest_currencies(raw_root: str) -> frozenset[str] | None:
    """The FX table of the run that wrote the lake, from its manifests."""
    found: set[str] = set()
    for m in read_manifests(raw_root):
        found |= set(m.get("spec", {}).get("world", {}).get("fx_per_usd", {}))
    return frozenset(found) or None


def _fk_reference(spark, opts: Options, snapshot: str, key: str, schemas):
    """Key values of a snapshot table: the snapshots of the processed dates,
    else the newest one in the lake."""
    from pyspark.sql import functions as F

    raw = read_table(spark, opts.raw, snapshot, schemas[snapshot], opts.ingest_dates)
    if raw is None:
        raw = read_table(spark, opts.raw, snapshot, schemas[snapshot], None)
        if raw is None:
            return None
        newest = raw.df.agg(F.max("snapshot_date")).first()[0]
        raw.df = raw.df.where(F.col("snapshot_date") == newest)
    return raw.df.where(F.col(key).isNotNull()).select(key).distinct()


def _with_foreign_keys(spark, df, table: str, opts: Options, schemas):
    from pyspark.sql import functions as F

    missing = F.lit(False)
    for col, (snapshot, key) in dq.TABLES[table].foreign_keys.items():
        ref = _fk_reference(spark, opts, snapshot, key, schemas)
        if ref is None:
            raise JobError(f"{opts.raw}: no {snapshot} snapshot to check {table}.{col} against")
        flag = f"_fk_{col}"
        df = df.join(F.broadcast(ref.select(F.col(key).alias(flag))), F.col(col) == F.col(flag), "left")
        missing = missing | (F.col(col).isNotNull() & F.col(flag).isNull())
        df = df.withColumn(f"{flag}_missing", missing)
        missing = F.col(f"{flag}_missing")
    return df.withColumn("_fk_missing", missing)


def _process(spark, table: str, raw: RawTable, schemas: dict, params, opts: Options, run_id: str):
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rules = dq.TABLES[table]
    schema = schemas[table]
    df = raw.df
    if rules.ts:
        df = df.withColumn(
            "_landing_start", F.to_timestamp(F.concat_ws(" ", "ingest_date", "hour"), "yyyy-MM-dd HH")
        )
        df = _with_foreign_keys(spark, df, table, opts, schemas)
    df = dq.evaluate(df, table, params).cache()

    landing = [F.col(c) for c in raw.partitions] + [F.col("_file"), F.col("_block"), F.col("_pos")]
    passed = df.where(F.size("_quarantine") == 0)
    if rules.ts:
        passed = passed.withColumn("_payload", F.sha2(F.to_json(F.struct(*schema.names)), 256))
        exact = Window.partitionBy(rules.id, "_payload").orderBy(*landing)
        passed = passed.withColumn("_copy", F.row_number().over(exact) > 1)
        by_id = Window.partitionBy(rules.id).orderBy(*landing)
        firsts = passed.where(~F.col("_copy")).withColumn("_near", F.row_number().over(by_id) > 1)
        firsts = _against_silver(spark, firsts, table, schema, opts)
        outcome_dups = passed.where(F.col("_copy")).withColumn("_outcome", F.lit("duplicate"))
        classified = firsts.withColumn(
            "_outcome",
            F.when(F.col("_copy"), "duplicate").when(F.col("_near"), "near_duplicate").otherwise("silver"),
        )
        classified = classified.unionByName(outcome_dups.withColumn("_near", F.lit(False)))
    else:
        classified = passed.withColumn("_outcome", F.lit("silver"))
    classified = classified.cache()

    silver = classified.where(F.col("_outcome") == "silver")
    if rules.ts:
        silver = silver.withColumn("event_date", F.date_format(rules.ts, "yyyy-MM-dd"))
        if "event_hour" in silver_partitions(table):
            silver = silver.withColumn("event_hour", F.date_format(rules.ts, "HH"))
    silver_cols = schema.names + silver_partitions(table)
    target_rows = max(1, int(opts.target_file_mb * 1024 * 1024 // ROW_BYTES[table]))
    _write_compacted(silver.select(*silver_cols), f"{opts.silver.rstrip('/')}/{table}", silver_partitions(table), rules.id, target_rows)

    near = classified.where(F.col("_outcome") == "near_duplicate").select(*df.columns)
    near = near.withColumn("_quarantine", F.array(F.lit("near_duplicate"))).withColumn("_reason", F.lit("near_duplicate"))
    rejected = df.where(F.size("_quarantine") > 0).unionByName(near)
    q_parts = quarantine_partitions(table)
    quarantine = _quarantine_records(rejected, rules.id, raw, run_id)
    quarantine.repartition(*q_parts).write.mode("overwrite").partitionBy(*q_parts).parquet(
        f"{opts.quarantine.rstrip('/')}/{table}"
    )

    counts = _counts(df, classified)
    values = {
        "format": raw.format,
        "rows_in": counts["rows_in"],
        "silver_rows": counts["silver"],
        "quarantined": counts["quarantined"],
        "duplicates_removed": counts["duplicate"],
        "near_duplicates": counts["near_duplicate"],
        "late_rows": counts["late"],
        "quarantined_by_rule": counts["by_reason"],
        "failed_by_rule": counts["by_rule"],
        "files_before": len(raw.files),
    }
    balance = values["silver_rows"] + values["quarantined"] + values["duplicates_removed"]
    values["balanced"] = balance == values["rows_in"]
    parts = [r.asDict() for r in silver.select(*silver_partitions(table)).distinct().collect()]
    q_written = [r.asDict() for r in quarantine.select(*q_parts).distinct().collect()]
    values["partitions_written"] = len(parts)
    values["files_after"] = _count_written(opts.silver, table, parts)
    df.unpersist()
    classified.unpersist()
    if not values["balanced"]:
        raise BalanceError(
            f"{table}: records do not balance: {values['rows_in']} in, {values['silver_rows']} silver + "
            f"{values['quarantined']} quarantined + {values['duplicates_removed']} duplicates = {balance}"
        )
    return values, {"silver": parts, "quarantine": q_written}


def _quarantine_records(rejected, id_col: str, raw: RawTable, run_id: str):
    """Rejected records in the columns `schemas/jobs/quarantine.v1.json`
    declares, plus the landing partition."""
    from pyspark.sql import functions as F

    values = {
        "run_id": F.lit(run_id),
        "record_id": F.coalesce(F.col(id_col), _id_from_raw(id_col, raw.format)),
        "reason": F.col("_reason"),
        "failed_rules": F.col("_quarantine"),
        "raw": F.col("_raw"),
        "source_file": F.col("_file"),
        "ingest_hour": F.col("hour") if "hour" in raw.partitions else F.lit(None),
    }
    schema = job_schema("quarantine")
    missing = [c.name for c in schema.columns if c.name not in values]
    if missing:
        raise JobError(f"schemas/jobs/quarantine: no value for column(s) {', '.join(missing)}")
    return rejected.select(
        *[values[c.name].cast(spark_type(c)).alias(c.name) for c in schema.columns],
        F.col(raw.partitions[0]),
    )


def _against_silver(spark, firsts, table: str, schema: TableSchema, opts: Options):
    """Records already in silver from other ingest days: an equal one makes
    the new record a duplicate, a different one a near-duplicate."""
    from pyspark.sql import functions as F

    path = f"{opts.silver.rstrip('/')}/{table}"
    if opts.ingest_dates is None or not list_files(path):
        return firsts
    ids = dq.TABLES[table].id
    existing = (
        spark.read.option("basePath", path)
        .parquet(path)
        .where(~F.col("ingest_date").isin(opts.ingest_dates))
        .select(F.col(ids).alias("_seen_id"), F.sha2(F.to_json(F.struct(*schema.names)), 256).alias("_seen_payload"))
    )
    joined = firsts.join(existing, F.col(ids) == F.col("_seen_id"), "left")
    seen = F.col("_seen_id").isNotNull()
    return (
        joined.withColumn("_copy", seen & (F.col("_seen_payload") == F.col("_payload")))
        .withColumn("_near", F.col("_near") | (seen & (F.col("_seen_payload") != F.col("_payload"))))
        .drop("_seen_id", "_seen_payload")
    )


def _id_from_raw(id_col: str, fmt: str):
    """The id of a record that did not parse, read from its text."""
    from pyspark.sql import functions as F

    pattern = f'"{id_col}":(-?[0-9]+)' if fmt == "json" else r"^(-?[0-9]+)[,\n]?"
    text = F.regexp_extract(F.col("_raw"), pattern, 1)
    return F.when(text != "", text.cast("bigint"))


def _counts(df, classified) -> dict:
    from pyspark.sql import functions as F

    rows_in = df.count()
    by_rule = {
        r["rule"]: r["count"] for r in df.select(F.explode("_failed").alias("rule")).groupBy("rule").count().collect()
    }
    by_reason = {
        r["_reason"]: r["count"]
        for r in df.where(F.size("_quarantine") > 0).groupBy("_reason").count().collect()
    }
    outcomes = {r["_outcome"]: r["count"] for r in classified.groupBy("_outcome").count().collect()}
    late = classified.where((F.col("_outcome") == "silver") & F.array_contains("_failed", "late")).count()
    near = outcomes.get("near_duplicate", 0)
    if near:
        by_reason["near_duplicate"] = near
    return {
        "rows_in": rows_in,
        "silver": outcomes.get("silver", 0),
        "duplicate": outcomes.get("duplicate", 0),
        "near_duplicate": near,
        "quarantined": sum(by_reason.values()),
        "late": late,
        "by_rule": dict(sorted(by_rule.items())),
        "by_reason": dict(sorted(by_reason.items())),
    }


def _write_compacted(df, path: str, partitions: list[str], id_col: str, target_rows: int) -> None:
    """Writes each partition as ceil(rows / target_rows) files at most, rows
    sorted by id, so files grow toward the target size however many input
    files there were."""
    from pyspark.sql import functions as F

    counts = df.groupBy(*partitions).agg(F.ceil(F.count("*") / F.lit(target_rows)).alias("_files"))
    bucketed = df.join(F.broadcast(counts), partitions).withColumn(
        "_bucket", F.pmod(F.xxhash64(id_col), F.col("_files"))
    )
    (
        bucketed.repartition(*partitions, "_bucket")
        .sortWithinPartitions(*partitions, id_col)
        .drop("_files", "_bucket")
        .write.mode("overwrite")
        .option("maxRecordsPerFile", target_rows)
        .partitionBy(*partitions)
        .parquet(path)
    )


def _count_written(silver_root: str, table: str, parts: list[dict]) -> int:
    prefixes = ["/".join(f"{k}={v}" for k, v in p.items()) + "/" for p in parts]
    files = list_files(f"{silver_root.rstrip('/')}/{table}")
    return sum(1 for f in files if any(pre in f for pre in prefixes))


def _write_text(spark, path: str, text: str) -> None:
    """Writes a small file through Hadoop's file system (local or s3a)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    p = jvm.org.apache.hadoop.fs.Path(path)
    out = p.getFileSystem(conf).create(p, True)
    try:
        out.write(bytearray(text.encode()))
    finally:
        out.close()


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(prog="bronze_to_silver", description=__doc__.split("\n\n")[0])
    p.add_argument("--raw", required=True, help="root of the producer's raw lake (path, file:// or s3a://)")
    p.add_argument("--silver", required=True, help="root of silver")
    p.add_argument("--quarantine", required=True, help="root of quarantine")
    p.add_argument("--tables", default=",".join(TABLE_ORDER), help="comma-separated (default: all)")
    p.add_argument("--ingest-dates", help="landing days to process, YYYY-MM-DD,… (default: all)")
    p.add_argument("--run-id", default="", help="written with every quarantined record (default: a UTC timestamp)")
    p.add_argument("--target-file-mb", type=float, default=DEFAULT_TARGET_MB, help="silver file size to aim for")
    p.add_argument("--future-tolerance-minutes", type=float, default=5.0, help="clock skew allowed past the landing hour")
    p.add_argument("--amount-tolerance", type=Decimal, default=Decimal("0.005"), help="allowed |amount - sum(items)|")
    p.add_argument("--currencies", help="the FX table's currencies, comma-separated (default: the lake's manifest)")
    p.add_argument("--metrics", help="write the metrics record here as JSON")
    p.add_argument("--glue-database", help="register silver and quarantine tables in this Glue database")
    a = p.parse_args(argv)
    tables = tuple(t.strip() for t in a.tables.split(",") if t.strip())
    dates = [d.strip() for d in a.ingest_dates.split(",")] if a.ingest_dates else None
    if dates:
        import datetime

        for d in dates:
            try:
                datetime.date.fromisoformat(d)
            except ValueError:
                p.error(f"--ingest-dates: '{d}' is not a date (YYYY-MM-DD)")
    if a.target_file_mb <= 0:
        p.error("--target-file-mb must be above 0")
    currencies = frozenset(c.strip() for c in a.currencies.split(",")) if a.currencies else None
    return Options(
        raw=a.raw,
        silver=a.silver,
        quarantine=a.quarantine,
        tables=tables,
        ingest_dates=dates,
        run_id=a.run_id,
        target_file_mb=a.target_file_mb,
        future_tolerance_minutes=a.future_tolerance_minutes,
        amount_tolerance=a.amount_tolerance,
        currencies=currencies,
        metrics=a.metrics,
        glue_database=a.glue_database,
    )


def main(argv: list[str] | None = None, spark=None) -> int:
    opts = parse_args(argv)
    from .utils import spark_session

    spark = spark or spark_session("marketpulse-bronze-to-silver")
    try:
        record = run(spark, opts)
    except JobError as e:
        print(f"bronze_to_silver: error: {e}", file=sys.stderr)
        return 2
    except BalanceError as e:
        print(f"bronze_to_silver: error: {e}", file=sys.stderr)
        return 1
    for table, v in record["tables"].items():
        print(
            f"{table}: {v.get('rows_in', 0)} in, {v.get('silver_rows', 0)} silver, {v.get('quarantined', 0)} quarantined, "
            f"{v.get('duplicates_removed', 0)} duplicates, {v.get('late_rows', 0)} late; "
            f"files {v.get('files_before', 0)} -> {v.get('files_after', 0)}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
