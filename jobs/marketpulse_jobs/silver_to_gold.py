"""Silver -> gold: the marts BI and Redshift read, one plain PySpark function
per gold table, and the incremental driver that rebuilds only the days new
silver partitions touch.

A Glue job runs it (`jobs/entrypoints/silver_to_gold.py`): Glue's bookmarks
say which silver partitions are new, `affected_keys` turns them into the
event days (or snapshot days) they belong to, and `build` recomputes exactly
those gold partitions from all of silver and overwrites them (dynamic
partition overwrite). A late record that lands a day later therefore
rebuilds its event day whole: gold is never appended to twice, and any
order of runs gives the gold of one run over everything.

Columns come from `schemas/gold/`; `conform` casts and orders every table
to them, so Glue tables and Redshift DDL are tested against the same file.
"""

from __future__ import annotations

import json
import re
import time

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from . import contracts
from .layers import GOLD_PARTITION, silver_partitions
from .utils import (
    JobError,
    Metrics,
    TableSchema,
    gold_schemas,
    list_files,
    spark_type,
    write_text,
)

# Gold table -> the silver table it is built from.
SOURCES = {
    "fct_sales": "sales",
    "sales_by_store": "sales",
    "fct_clicks_agg": "clicks",
    "conversion_rates": "clicks",
    "dim_store": "stores",
    "dim_user_current": "users",
}
GOLD_TABLES = tuple(SOURCES)

# The funnel: step number, name, and the page type that reaches it.
FUNNEL = ((1, "visit", None), (2, "product", "product"), (3, "cart", "cart"), (4, "checkout", "checkout"),
          (5, "purchase", "confirmation"))  # fmt: skip


def parse_fx(text: str) -> dict[str, float]:
    """`AUD=1.52,EUR=0.92,…` (units of the currency per USD)."""
    rates = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        code, sep, value = part.partition("=")
        try:
            rate = float(value) if sep else 0.0
        except ValueError:
            rate = 0.0
        if not re.fullmatch(r"[A-Z]{3}", code.strip()) or not rate > 0:
            raise JobError(f"fx_per_usd: '{part}' is not CODE=units-per-USD (for example EUR=0.92)")
        rates[code.strip()] = rate
    if not rates:
        raise JobError("fx_per_usd is empty: give CODE=units-per-USD pairs, comma-separated")
    return rates


# --- one function per gold table ------------------------------------------


def _fx_frame(spark, fx: dict[str, float]) -> DataFrame:
    return spark.createDataFrame(sorted(fx.items()), "currency string, per_usd double")


def fct_sales(sales: DataFrame, fx: DataFrame) -> DataFrame:
    lines = sales.select("*", F.posexplode("items").alias("pos", "item"))
    amount = (F.col("item.qty").cast("decimal(10,0)") * F.col("item.unit_price")).cast("decimal(18,2)")
    return (
        lines.join(F.broadcast(fx), "currency")
        .withColumn("line_amount", amount)
        .select(
            F.to_date("ts").alias("sale_date"),
            "transaction_id",
            (F.col("pos") + 1).alias("line_number"),
            "ts",
            "store_id",
            "user_id",
            "session_id",
            "channel",
            "payment_type",
            "currency",
            F.col("item.sku").alias("sku"),
            F.col("item.qty").alias("qty"),
            F.col("item.unit_price").alias("unit_price"),
            "line_amount",
            (F.col("line_amount").cast("double") / F.col("per_usd")).alias("line_amount_usd"),
        )
    )


def sales_by_store(sales: DataFrame, fx: DataFrame) -> DataFrame:
    units = F.aggregate("items", F.lit(0).cast("long"), lambda acc, item: acc + item["qty"])
    daily = sales.groupBy(F.to_date("ts").alias("sale_date"), "store_id", "currency").agg(
        F.count(F.lit(1)).alias("transactions"),
        F.sum(units).alias("items"),
        F.sum("amount").cast("decimal(18,2)").alias("gross_local"),
    )
    gross = F.col("gross_local").cast("double")
    return daily.join(F.broadcast(fx), "currency").select(
        "sale_date",
        "store_id",
        "currency",
        "transactions",
        "items",
        "gross_local",
        (gross / F.col("per_usd")).alias("gross_usd"),
        (gross / F.col("transactions")).alias("avg_basket_local"),
    )


def page_type(page) -> F.Column:
    return (
        F.when(page == "/", "home")
        .when(page.startswith("/c/"), "category")
        .when(page.startswith("/p/"), "product")
        .when(page == "/cart", "cart")
        .when(page == "/checkout", "checkout")
        .when(page == "/checkout/confirmation", "confirmation")
        .otherwise("other")
    )


def _click_attributes(clicks: DataFrame) -> DataFrame:
    """Day, page type and the session's attributes of every click."""
    host = F.nullif(F.regexp_extract("referrer", r"^https?://(www\.)?([^/:]+)", 2), F.lit(""))
    return clicks.select(
        F.to_date("ts").alias("activity_date"),
        F.hour("ts").alias("activity_hour"),
        page_type(F.col("page")).alias("page_type"),
        F.coalesce("device_type", F.lit("unknown")).alias("device_type"),
        F.coalesce("utm_source", host, F.lit("direct")).alias("traffic_source"),
        F.coalesce("utm_campaign", F.lit("(none)")).alias("utm_campaign"),
        "session_id",
        "user_id",
    )


def fct_clicks_agg(clicks: DataFrame) -> DataFrame:
    dims = ["activity_date", "activity_hour", "page_type", "device_type", "traffic_source", "utm_campaign"]
    return (
        _click_attributes(clicks)
        .groupBy(*dims)
        .agg(
            F.count(F.lit(1)).alias("clicks"),
            F.countDistinct("session_id").alias("sessions"),
            F.countDistinct("user_id").alias("users"),
        )
    )


def conversion_rates(clicks: DataFrame) -> DataFrame:
    """Sessions reaching each funnel step on each day. A session's source,
    campaign and device are the same on all its clicks; the smallest value
    is taken so the result never depends on row order."""
    per_session = (
        _click_attributes(clicks)
        .groupBy("activity_date", "session_id")
        .agg(
            F.min("traffic_source").alias("traffic_source"),
            F.min("utm_campaign").alias("utm_campaign"),
            F.min("device_type").alias("device_type"),
            *[F.max((F.col("page_type") == page).cast("int")).alias(f"s{n}") for n, _, page in FUNNEL if page],
        )
        .withColumn("s1", F.lit(1))
    )
    dims = ["activity_date", "traffic_source", "utm_campaign", "device_type"]
    counts = per_session.groupBy(*dims).agg(*[F.sum(f"s{n}").cast("long").alias(f"s{n}") for n, _, _ in FUNNEL])
    steps = F.explode(
        F.array(
            *[
                F.struct(
                    F.lit(n).alias("step_number"),
                    F.lit(name).alias("step"),
                    F.col(f"s{n}").alias("sessions"),
                    (F.col(f"s{n - 1}") if n > 1 else F.lit(None).cast("long")).alias("previous"),
                )
                for n, name, _ in FUNNEL
            ]
        )
    )
    rows = counts.select(*dims, "s1", steps.alias("x")).select(*dims, "s1", "x.*")
    return rows.select(
        *dims,
        "step_number",
        "step",
        "sessions",
        (F.col("sessions").cast("double") / F.col("s1")).alias("conversion_from_start"),
        F.when(F.col("previous") > 0, F.col("sessions").cast("double") / F.col("previous")).alias(
            "conversion_from_previous"
        ),
    )


def _newest(snapshots: DataFrame) -> DataFrame:
    newest = snapshots.agg(F.max("snapshot_date").alias("snapshot_date"))
    return snapshots.join(newest, "snapshot_date").withColumn("snapshot_date", F.to_date("snapshot_date"))


def dim_store(stores: DataFrame) -> DataFrame:
    return _newest(stores)


def dim_user_current(users: DataFrame) -> DataFrame:
    return _newest(users).where("is_current")


# --- the incremental driver ------------------------------------------------


def conform(df: DataFrame, schema: TableSchema) -> DataFrame:
    """The table's columns of `schemas/gold/`, in order, with their types."""
    missing = [c.name for c in schema.columns if c.name not in df.columns]
    if missing:
        raise JobError(f"gold table {schema.table} computes no column(s) {', '.join(missing)}")
    return df.select([F.col(c.name).cast(spark_type(c)).alias(c.name) for c in schema.columns])


def partition_value(path: str, key: str) -> str | None:
    m = re.search(rf"/{key}=([^/]+)/", path)
    return m.group(1) if m else None


def day_key(source: str) -> str:
    """The silver partition key that names a source's day: its event day, or
    the day it is a snapshot of."""
    return silver_partitions(source)[0]


def affected_keys(new_files: dict[str, list[str]]) -> dict[str, list[str]]:
    """Silver table -> the days its new files belong to."""
    out = {}
    for source, files in new_files.items():
        days = {partition_value(f, day_key(source)) for f in files}
        if None in days:
            raise JobError(f"silver {source}: a file outside a {day_key(source)}= partition")
        out[source] = sorted(days)
    return out


def _silver(spark, silver_root: str, source: str, days: list[str] | None) -> DataFrame:
    """A silver table, only the partitions of `days` when given."""
    df = spark.read.parquet(f"{silver_root.rstrip('/')}/{source}")
    return df if days is None else df.where(F.col(day_key(source)).isin(days))


def _write(df: DataFrame, gold_root: str, schema: TableSchema) -> None:
    path = f"{gold_root.rstrip('/')}/{schema.table}"
    keys = [c.name for c in schema.columns if c.type != "float64"]
    df = conform(df, schema)
    if schema.partitioned_by:
        df = df.withColumn(GOLD_PARTITION, F.date_format(schema.partitioned_by, "yyyy-MM-dd"))
        writer = df.repartition(GOLD_PARTITION).sortWithinPartitions(*keys).write.partitionBy(GOLD_PARTITION)
    else:
        writer = df.coalesce(1).sortWithinPartitions(*keys).write
    writer.mode("overwrite").option("partitionOverwriteMode", "dynamic").parquet(path)


def build(
    spark,
    silver_root: str,
    gold_root: str,
    days: dict[str, list[str]],
    fx: dict[str, float] | None,
    tables: tuple[str, ...] = GOLD_TABLES,
) -> dict[str, dict]:
    """Rebuilds the gold partitions of `days` (silver table -> its days) and
    returns, per gold table, the partitions written. Snapshot tables are
    rebuilt whole from the newest snapshot whenever any snapshot day is new."""
    schemas = gold_schemas()
    unknown = [t for t in tables if t not in SOURCES or t not in schemas]
    if unknown:
        raise JobError(f"unknown gold table(s) {', '.join(unknown)} (expected {', '.join(GOLD_TABLES)})")
    fx_df = None  # checked against the sales once, for both sales tables
    written: dict[str, dict] = {}
    for table in tables:
        source = SOURCES[table]
        wanted = days.get(source, [])
        if not wanted:
            written[table] = {"partitions": []}
            continue
        snapshot = not contracts.table(source).is_event
        rows = _silver(spark, silver_root, source, None if snapshot else wanted)
        if contracts.table(source).money:
            if fx_df is None:
                fx_df = _checked_fx(spark, rows, fx)
            df = FUNCTIONS[table](rows, fx_df)
        else:
            df = FUNCTIONS[table](rows)
        _write(df, gold_root, schemas[table])
        written[table] = {"partitions": ["all"] if snapshot else list(wanted)}
    return written


def _checked_fx(spark, sales: DataFrame, fx: dict[str, float] | None) -> DataFrame:
    """The FX table as a frame, once it covers every currency of `sales`."""
    if fx is None:
        raise JobError("gold sales tables need the FX table: pass fx_per_usd (CODE=units-per-USD,…)")
    missing = {r[0] for r in sales.select("currency").distinct().collect()} - set(fx)
    if missing:
        raise JobError(f"fx_per_usd has no rate for {', '.join(sorted(missing))}")
    return _fx_frame(spark, fx)


FUNCTIONS = {
    "fct_sales": fct_sales,
    "sales_by_store": sales_by_store,
    "fct_clicks_agg": fct_clicks_agg,
    "conversion_rates": conversion_rates,
    "dim_store": dim_store,
    "dim_user_current": dim_user_current,
}

# --- Glue ---------------------------------------------------------------------

GLUE_ARGS = ["JOB_NAME", "silver", "gold", "fx_per_usd"]


def leaf_partitions(files: list[str]) -> list[str]:
    """The folders holding `files`: the partitions a run processed."""
    return sorted({f.rsplit("/", 1)[0] for f in files})


def run_glue(glue_context, args: dict, metrics_path: str | None = None) -> dict:
    """The Glue job's body: one bookmarked source per silver table (its
    `transformation_ctx` is `silver_<table>`), then `build` over the days
    the new files touch. Returns the metrics record."""
    spark = glue_context.spark_session
    silver = args["silver"].rstrip("/")
    fx = parse_fx(args["fx_per_usd"]) if args.get("fx_per_usd") else None
    metrics = Metrics("silver_to_gold", args.get("JOB_RUN_ID") or time.strftime("s2g-%Y%m%dT%H%M%SZ", time.gmtime()))
    sources = contracts.table_names()
    new_files = {}
    for source in sources:
        # A source with no files at all gives Glue a frame without columns,
        # not even the attached file name: skip it before reading.
        if not list_files(f"{silver}/{source}"):
            new_files[source] = []
            continue
        frame = glue_context.create_dynamic_frame.from_options(
            connection_type="s3",
            connection_options={"paths": [f"{silver}/{source}/"], "recurse": True, "attachFilename": "source_file"},
            format="parquet",
            transformation_ctx=f"silver_{source}",
        )
        df = frame.toDF()
        # Nothing new since the bookmark: Glue's frame then has no columns.
        new_files[source] = [r[0] for r in df.select("source_file").distinct().collect()] if df.columns else []
    days = affected_keys(new_files)
    written = build(spark, silver, args["gold"], days, fx)
    partitions = {s: leaf_partitions(new_files[s]) for s in sources}
    for source in sources:
        metrics.record(f"silver.{source}", {"new_partitions": len(partitions[source]), "days": len(days[source])})
    for table, info in written.items():
        metrics.record(table, {"partitions_written": len(info["partitions"])})
    record = metrics.as_dict()
    record["new_partitions"] = partitions
    record["days"] = days
    for line in metrics.emf_lines():
        print(line, flush=True)
    if metrics_path:
        write_text(metrics_path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record
