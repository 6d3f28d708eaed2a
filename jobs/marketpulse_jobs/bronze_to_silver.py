"""Bronze -> silver: the producer's raw lake validated, deduplicated, placed
by event time and compacted into Parquet; every rejected record quarantined
with its reasons; the run's balance checked and its metrics written.

    spark-submit --py-files marketpulse_jobs-*.whl entrypoints/bronze_to_silver.py \\
        --raw s3a://…-raw/ --silver s3a://…-silver/ --quarantine s3a://…-silver/quarantine/

Layout (docs/decisions/ADR-005-silver-layout-for-late-data.md):
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
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from pyspark.sql import functions as F

from . import contracts, dq
from .catalog import register
from .layers import quarantine_partitions, silver_partitions
from .raw import RawTable, read_table, select_files
from .utils import (
    JobError,
    Metrics,
    TableSchema,
    delete_paths,
    glob_paths,
    job_schema,
    list_files,
    load_schemas,
    read_text,
    silver_schema,
    spark_type,
    write_text,
)

DEFAULT_TARGET_MB = 128
# Bytes per row of zstd Parquet in silver, measured on the producer's data
# (load-tests/results/silver.md); they turn the target file size into rows.
ROW_BYTES = {"sales": 21, "clicks": 12, "users": 14, "stores": 31}


@dataclass
class Options:
    raw: str
    silver: str
    quarantine: str
    tables: tuple[str, ...] = field(default_factory=contracts.table_names)
    ingest_dates: list[str] | None = None
    run_id: str = ""
    target_file_mb: float = DEFAULT_TARGET_MB
    future_tolerance_minutes: float = 5.0
    amount_tolerance: Decimal = Decimal("0.005")
    currencies: frozenset[str] | None = None
    metrics: str | None = None
    glue_database: str | None = None


# The columns of `schemas/jobs/quarantine.*.json` this job fills.
QUARANTINE_VALUES = ("run_id", "record_id", "reason", "failed_rules", "raw", "source_file", "ingest_hour")


class BalanceError(Exception):
    """Records in did not equal silver + quarantined + removed duplicates."""


def run(spark, opts: Options) -> dict:
    """Runs the job; returns the metrics record. Raises JobError on bad input
    and when a table's records do not balance."""
    schemas = {t: silver_schema(v) for t, v in load_schemas().items()}
    quarantine = job_schema("quarantine")
    unfilled = [c.name for c in quarantine.columns if c.name not in QUARANTINE_VALUES]
    if unfilled:
        raise JobError(f"schemas/jobs/quarantine: no value for column(s) {', '.join(unfilled)}")
    order = contracts.table_names()
    for t in opts.tables:
        if t not in order:
            raise JobError(f"unknown table '{t}' (expected {', '.join(order)})")
    if not any(select_files(opts.raw, t, opts.ingest_dates) for t in opts.tables):
        dates = f" for ingest dates {','.join(opts.ingest_dates)}" if opts.ingest_dates else ""
        raise JobError(f"no raw files under {opts.raw} for {','.join(opts.tables)}{dates}")
    currencies = opts.currencies
    if currencies is None and any(contracts.table(t).money for t in opts.tables):
        currencies = _manifest_currencies(opts.raw)
        if currencies is None:
            where = f"{opts.raw.rstrip('/')}/{contracts.layout().manifest_dir}"
            raise JobError(f"no run manifest under {where} gives the FX table: pass --currencies")
    params = dq.Params(currencies, opts.future_tolerance_minutes, opts.amount_tolerance)
    metrics = Metrics("bronze_to_silver", opts.run_id or time.strftime("b2s-%Y%m%dT%H%M%SZ", time.gmtime()))
    written: dict[str, dict[str, list[dict]]] = {}
    for table in [t for t in order if t in opts.tables]:
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
    for line in metrics.emf_lines():
        print(line, flush=True)

    def save():
        if opts.metrics:
            write_text(opts.metrics, json.dumps(record, indent=2, sort_keys=True) + "\n")

    save()  # before the catalog, so a Glue failure keeps the run's record
    if opts.glue_database:
        record["catalog"] = register(opts.glue_database, schemas, written, opts)
        save()
    return record


def _manifest_currencies(raw_root: str) -> frozenset[str] | None:
    """The FX table of the run that wrote the lake, from its manifests."""
    found: set[str] = set()
    for m in read_manifests(raw_root):
        found |= set(m.get("spec", {}).get("world", {}).get("fx_per_usd", {}))
    return frozenset(found) or None


def read_manifests(raw_root: str) -> list[dict]:
    """The producer's shard manifests in a raw lake."""
    lake = contracts.layout()
    folder = lake.manifest_dir
    paths = glob_paths(f"{raw_root.rstrip('/')}/{folder}/*")
    return [json.loads(read_text(p)) for p in paths if lake.is_manifest(f"{folder}/{p.rsplit('/', 1)[-1]}")]


def _fk_reference(spark, opts: Options, snapshot: str, key: str, schemas):
    """Key values of a snapshot table: the snapshots of the processed dates,
    else the newest one in the lake."""
    raw = read_table(spark, opts.raw, snapshot, schemas[snapshot], opts.ingest_dates)
    if raw is None:
        raw = read_table(spark, opts.raw, snapshot, schemas[snapshot], None)
        if raw is None:
            return None
        day = contracts.table(snapshot).landing
        newest = raw.df.agg(F.max(day)).first()[0]
        raw.df = raw.df.where(F.col(day) == newest)
    return raw.df.where(F.col(key).isNotNull()).select(key).distinct()


def _with_foreign_keys(spark, df, table: str, opts: Options, schemas):
    """Adds `_fk_missing`: a foreign key that is set and absent from its snapshot."""
    from functools import reduce

    missing = []
    for col, (snapshot, key) in contracts.table(table).foreign_keys.items():
        ref = _fk_reference(spark, opts, snapshot, key, schemas)
        if ref is None:
            raise JobError(f"{opts.raw}: no {snapshot} snapshot to check {table}.{col} against")
        flag = f"_fk_{col}"
        df = df.join(F.broadcast(ref.select(F.col(key).alias(flag))), F.col(col) == F.col(flag), "left")
        missing.append(F.col(col).isNotNull() & F.col(flag).isNull())
    return df.withColumn("_fk_missing", reduce(lambda a, b: a | b, missing, F.lit(False)))


def _process(spark, table: str, raw: RawTable, schemas: dict, params, opts: Options, run_id: str):
    contract = contracts.table(table)
    schema = schemas[table]
    df = raw.df
    if contract.is_event:
        day, hour = contract.partitions
        df = df.withColumn("_landing_start", F.to_timestamp(F.concat_ws(" ", day, hour), "yyyy-MM-dd HH"))
        df = _with_foreign_keys(spark, df, table, opts, schemas)
    df = dq.evaluate(df, table, params).cache()
    rejected = F.size("_quarantine") > 0
    if contract.is_event:
        classified = _deduplicate(spark, df.where(~rejected), table, schema, raw, opts).unionByName(
            df.where(rejected).withColumn("_outcome", F.lit("quarantine")), allowMissingColumns=True
        )
        classified = classified.cache()
    else:
        classified = df.withColumn("_outcome", F.when(rejected, "quarantine").otherwise("silver"))

    # Count and check before anything is written.
    silver_cols = _silver_partition_values(table)
    quarantine_cols = {c: F.col(c) for c in quarantine_partitions(table)}
    counts = _counts(classified, silver_cols, quarantine_cols)
    values = {
        "format": raw.format,
        "rows_in": counts["rows_in"],
        "silver_rows": counts["silver"],
        "quarantined": counts["quarantined"],
        # What the data-quality gate judges (gate.py): rejected of read.
        "quarantine_rate": round(counts["quarantined"] / counts["rows_in"], 6) if counts["rows_in"] else 0.0,
        "duplicates_removed": counts["duplicate"],
        "near_duplicates": counts["near_duplicate"],
        "late_rows": counts["late"],
        "quarantined_by_rule": counts["by_reason"],
        "failed_by_rule": counts["by_rule"],
        "files_before": len(raw.files),
    }
    balance = values["silver_rows"] + values["quarantined"] + values["duplicates_removed"]
    values["balanced"] = balance == values["rows_in"]
    if not values["balanced"]:
        raise BalanceError(
            f"{table}: records do not balance: {values['rows_in']} in, {values['silver_rows']} silver + "
            f"{values['quarantined']} quarantined + {values['duplicates_removed']} duplicates = {balance}"
        )

    silver = classified.where(F.col("_outcome") == "silver")
    silver = silver.select(*schema.names, *[v.alias(k) for k, v in silver_cols.items()])
    quarantine = _quarantine_records(
        classified.where(F.col("_outcome").isin("quarantine", "near_duplicate")), schema, contract.id, raw, run_id
    )
    landed = _landing_dates(raw)
    silver_root = f"{opts.silver.rstrip('/')}/{table}"
    quarantine_root = f"{opts.quarantine.rstrip('/')}/{table}"
    # A re-run of a landing day replaces everything that day wrote, also
    # partitions it no longer writes (another tolerance, another FX table).
    _clear(silver_root, silver_partitions(table), landed)
    _clear(quarantine_root, quarantine_partitions(table), landed)
    target_rows = max(1, int(opts.target_file_mb * 1024 * 1024 // ROW_BYTES[table]))
    _write_compacted(silver, silver_root, silver_partitions(table), contract.id, target_rows)
    q_parts = quarantine_partitions(table)
    quarantine.repartition(*q_parts).write.mode("overwrite").option("partitionOverwriteMode", "dynamic").partitionBy(
        *q_parts
    ).parquet(quarantine_root)

    parts, q_written = counts["partitions"]["silver"], counts["partitions"]["quarantine"]
    values["partitions_written"] = len(parts)
    values["files_after"] = _count_written(opts.silver, table, parts)
    df.unpersist()
    classified.unpersist()
    return values, {"silver": parts, "quarantine": q_written}


def _silver_partition_values(table: str) -> dict:
    """Silver's partition columns as expressions over a classified record:
    an event lands in the partition of its event time (and landing day)."""
    contract = contracts.table(table)
    formats = {"event_date": "yyyy-MM-dd", "event_hour": "HH"} if contract.is_event else {}
    return {
        c: F.date_format(contract.event_time, formats[c]) if c in formats else F.col(c) for c in silver_partitions(table)
    }


def _landing_dates(raw: RawTable) -> list[str]:
    """The landing days (ingest or snapshot dates) the input files hold."""
    key = raw.partitions[0]
    return sorted({f.split(f"/{key}=", 1)[1].split("/", 1)[0] for f in raw.files})


def _clear(root: str, partitions: list[str], landed: list[str]) -> None:
    """Deletes the partitions of the given landing days under `root`."""
    *above, key = partitions
    prefix = "/".join(f"{p}=*" for p in above)
    for day in landed:
        pattern = f"{root}/{prefix + '/' if prefix else ''}{key}={day}"
        delete_paths(glob_paths(pattern))


def _deduplicate(spark, passed, table: str, schema: TableSchema, raw: RawTable, opts: Options):
    """Adds `_outcome`: `duplicate` for a copy of a record landed earlier,
    `near_duplicate` for the same id with another payload landed later than
    the first, else `silver`. Landing order: landing day and hour, file,
    position in the file. One shuffle by id serves both rules."""
    from pyspark.sql import Window
    ids = contracts.table(table).id
    landing = F.struct(*[F.col(c) for c in raw.partitions], F.col("_file"), F.col("_block"), F.col("_pos"))
    passed = passed.withColumn("_payload", F.sha2(F.to_json(F.struct(*schema.names)), 256)).withColumn(
        "_landing", landing
    )
    same_payload_first = Window.partitionBy(ids).orderBy("_payload", "_landing")
    passed = passed.withColumn(
        "_copy", F.coalesce(F.lag("_payload").over(same_payload_first) == F.col("_payload"), F.lit(False))
    )
    first = F.min(F.when(~F.col("_copy"), F.col("_landing"))).over(Window.partitionBy(ids))
    passed = passed.withColumn("_near", ~F.col("_copy") & (F.col("_landing") != first))
    passed = _against_silver(spark, passed, table, schema, raw, opts)
    return passed.withColumn(
        "_outcome",
        F.when(F.col("_copy"), "duplicate").when(F.col("_near"), "near_duplicate").otherwise("silver"),
    ).withColumn(
        "_quarantine", F.when(F.col("_near"), F.array(F.lit("near_duplicate"))).otherwise(F.col("_quarantine"))
    ).withColumn("_reason", F.when(F.col("_near"), F.lit("near_duplicate")).otherwise(F.col("_reason")))


def _quarantine_records(rejected, schema: TableSchema, id_col: str, raw: RawTable, run_id: str):
    """Rejected records in the columns `schemas/jobs/quarantine.v1.json`
    declares, plus the landing partition."""
    values = {
        # Keys are QUARANTINE_VALUES: every column the schema declares.
        "run_id": F.lit(run_id),
        "record_id": F.coalesce(F.col(id_col), _id_from_raw(id_col, raw.format)),
        "reason": F.col("_reason"),
        "failed_rules": F.col("_quarantine"),
        "raw": F.coalesce(F.col("_raw"), F.to_json(F.struct(*schema.names))),
        "source_file": F.col("_file"),
        # The landing hour: the partition below the landing day, of events.
        "ingest_hour": F.col(raw.partitions[1]) if len(raw.partitions) > 1 else F.lit(None),
    }
    quarantine = job_schema("quarantine")
    return rejected.select(
        *[values[c.name].cast(spark_type(c)).alias(c.name) for c in quarantine.columns],
        F.col(raw.partitions[0]),
    )


def _against_silver(spark, passed, table: str, schema: TableSchema, raw: RawTable, opts: Options):
    """Records that silver already holds from earlier landing days: the same
    payload makes the new record a duplicate, another payload a
    near-duplicate (the first landed wins). Later days are not consulted, so
    re-running a day gives what running it in order gave."""
    from .utils import struct_type

    path = f"{opts.silver.rstrip('/')}/{table}"
    first_day = _landing_dates(raw)[0]
    if not glob_paths(f"{path}/event_date=*"):
        return passed
    contract = contracts.table(table)
    since = passed.agg(F.min(contract.event_time)).first()[0]
    if since is None:
        return passed
    ids = contract.id
    seen = (
        spark.read.schema(struct_type(schema))
        .option("basePath", path)
        .parquet(path)
        .where((F.col(contract.landing) < first_day) & (F.col("event_date") >= since.strftime("%Y-%m-%d")))
        .groupBy(F.col(ids).alias("_seen_id"))
        .agg(F.collect_set(F.sha2(F.to_json(F.struct(*schema.names)), 256)).alias("_seen"))
    )
    joined = passed.join(seen, F.col(ids) == F.col("_seen_id"), "left")
    known = F.col("_seen").isNotNull()
    same = F.coalesce(F.array_contains("_seen", F.col("_payload")), F.lit(False))
    return (
        joined.withColumn("_near", (F.col("_near") & ~same) | (known & ~same & ~F.col("_copy")))
        .withColumn("_copy", F.col("_copy") | same)
        .drop("_seen_id", "_seen")
    )


def _id_from_raw(id_col: str, fmt: str):
    """The id of a record that did not parse, read from its text."""
    if fmt == "parquet":
        return F.lit(None).cast("bigint")
    pattern = rf'"{id_col}"\s*:\s*(-?[0-9]+)' if fmt == "json" else r"^(-?[0-9]+),"
    text = F.regexp_extract(F.coalesce(F.col("_raw"), F.lit("")), pattern, 1)
    return F.when(text != "", text.cast("bigint"))


def _counts(classified, silver_parts: dict, quarantine_parts: dict) -> dict:
    """Outcomes, rules, reasons and the partitions each outcome lands in, in
    one pass over the classified records (a few hundred groups at most)."""
    outcomes: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    by_rule: dict[str, int] = {}
    late = 0
    parts: dict[str, set[tuple]] = {"silver": set(), "quarantine": set()}
    keys = {**{f"_s_{k}": v for k, v in silver_parts.items()}, **{f"_q_{k}": v for k, v in quarantine_parts.items()}}
    grouped = classified.groupBy("_outcome", "_reason", "_failed", *[v.alias(k) for k, v in keys.items()]).count()
    for r in grouped.collect():
        outcome, n, failed = r["_outcome"], r["count"], r["_failed"] or []
        outcomes[outcome] = outcomes.get(outcome, 0) + n
        for rule in failed:
            by_rule[rule] = by_rule.get(rule, 0) + n
        if outcome in ("quarantine", "near_duplicate"):
            by_reason[r["_reason"]] = by_reason.get(r["_reason"], 0) + n
            parts["quarantine"].add(tuple(r[f"_q_{k}"] for k in quarantine_parts))
        if outcome == "silver":
            late += n if "late" in failed else 0
            parts["silver"].add(tuple(r[f"_s_{k}"] for k in silver_parts))
    return {
        "rows_in": sum(outcomes.values()),
        "silver": outcomes.get("silver", 0),
        "duplicate": outcomes.get("duplicate", 0),
        "near_duplicate": outcomes.get("near_duplicate", 0),
        "quarantined": sum(by_reason.values()),
        "late": late,
        "by_rule": dict(sorted(by_rule.items())),
        "by_reason": dict(sorted(by_reason.items())),
        "partitions": {
            kind: [dict(zip(cols, p)) for p in sorted(parts[kind], key=str)]
            for kind, cols in (("silver", silver_parts), ("quarantine", quarantine_parts))
        },
    }


def _write_compacted(df, path: str, partitions: list[str], id_col: str, target_rows: int) -> None:
    """Writes each partition from one task, sorted by id, cut into files of
    at most `target_rows` rows: ceil(rows / target_rows) files per partition,
    however many input files there were."""
    (
        df.repartition(*partitions)
        .sortWithinPartitions(*partitions, id_col)
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .option("maxRecordsPerFile", target_rows)
        .partitionBy(*partitions)
        .parquet(path)
    )


def _count_written(silver_root: str, table: str, parts: list[dict]) -> int:
    prefixes = ["/".join(f"{k}={v}" for k, v in p.items()) + "/" for p in parts]
    files = list_files(f"{silver_root.rstrip('/')}/{table}")
    return sum(1 for f in files if any(pre in f for pre in prefixes))


class _Parser(argparse.ArgumentParser):
    """Errors in one line, as every other problem this job reports."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be a number of at least 0")
    return value


def parse_args(argv: list[str] | None = None) -> Options:
    p = _Parser(prog="bronze_to_silver", description=__doc__.split("\n\n")[0])
    p.add_argument("--raw", required=True, help="root of the producer's raw lake (path, file:// or s3a://)")
    p.add_argument("--silver", required=True, help="root of silver")
    p.add_argument("--quarantine", required=True, help="root of quarantine")
    p.add_argument("--tables", help="comma-separated (default: all)")
    p.add_argument("--ingest-dates", help="landing days to process, YYYY-MM-DD,… (default: all)")
    p.add_argument("--run-id", default="", help="written with every quarantined record (default: a UTC timestamp)")
    p.add_argument("--target-file-mb", type=float, default=DEFAULT_TARGET_MB, help="silver file size to aim for")
    p.add_argument("--future-tolerance-minutes", type=float, default=5.0, help="clock skew allowed past the landing hour")
    p.add_argument("--amount-tolerance", type=_decimal, default=Decimal("0.005"), help="allowed |amount - sum(items)|")
    p.add_argument("--currencies", help="the FX table's currencies, comma-separated (default: the lake's manifest)")
    p.add_argument("--metrics", help="write the metrics record here as JSON")
    p.add_argument("--glue-database", help="register silver and quarantine tables in this Glue database")
    a = p.parse_args(argv)
    tables = contracts.table_names()
    if a.tables is not None:
        tables = tuple(t.strip() for t in a.tables.split(",") if t.strip())
        if not tables:
            p.error("--tables: name at least one table")
    dates = None
    if a.ingest_dates is not None:
        import datetime

        dates = [d.strip() for d in a.ingest_dates.split(",") if d.strip()]
        if not dates:
            p.error("--ingest-dates is empty (leave it out to process every day)")
        for d in dates:
            try:
                datetime.date.fromisoformat(d)
            except ValueError:
                p.error(f"--ingest-dates: '{d}' is not a date (YYYY-MM-DD)")
    if not a.target_file_mb > 0:
        p.error("--target-file-mb must be above 0")
    if not a.future_tolerance_minutes >= 0:
        p.error("--future-tolerance-minutes must be at least 0")
    currencies = frozenset(c.strip() for c in a.currencies.split(",") if c.strip()) if a.currencies else None
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
    except Exception as e:  # noqa: BLE001 -- Spark, S3 or Glue: one line, not a page of JVM frames
        first = (str(e).strip().splitlines() or [""])[0]
        print(f"bronze_to_silver: error: {type(e).__name__}: {first}", file=sys.stderr)
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
