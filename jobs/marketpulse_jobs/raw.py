"""Reading the producer's raw lake into one frame per table, whatever the
format: Parquet, JSON lines or CSV, plain or compressed.

Every frame has the table's newest columns, typed, plus:
- `_raw`: the record as landed where the typed columns cannot show it (the
  corrupt line, or a text row's strings when a value did not convert);
  null otherwise, as the typed row is then the record;
- `_unparseable`, `_schema_mismatch`: what the reader could not take;
- landing: the partition values (`ingest_date`, `hour`, or
  `snapshot_date`), the file, and the position in the file (`_block`,
  `_pos`), which orders records by when they landed.
Text formats are read with every leaf as a string and cast afterwards, so a
value that does not convert is caught per row instead of failing the job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import functions as F

from . import contracts
from .utils import (
    Column,
    JobError,
    TableSchema,
    list_files,
    read_text,
    spark_type,
    struct_type,
)

CORRUPT = "_corrupt_record"
_COMPRESSED = (".gz", ".zst", ".bz2")


@dataclass
class RawTable:
    df: object
    format: str
    files: list[str]
    partitions: tuple[str, ...]


def partitions_of(table: str) -> tuple[str, ...]:
    """The table's partition columns in the lake (`schemas/lake/tables.json`)."""
    return contracts.table(table).partitions


def file_format(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    for ext in _COMPRESSED:
        name = name.removesuffix(ext)
    for ext, fmt in ((".parquet", "parquet"), (".jsonl", "json"), (".json", "json"), (".csv", "csv")):
        if name.endswith(ext):
            return fmt
    raise JobError(f"{path}: not a Parquet, JSON lines or CSV file")


def select_files(root: str, table: str, dates: list[str] | None) -> list[str]:
    """The table's data files, limited to the given landing dates."""
    key = partitions_of(table)[0]
    files = [f for f in list_files(f"{root.rstrip('/')}/{table}") if f"/{key}=" in f]
    if dates is not None:
        wanted = {f"/{key}={d}/" for d in dates}
        files = [f for f in files if any(w in f for w in wanted)]
    return files


def read_table(spark, root: str, table: str, schema: TableSchema, dates: list[str] | None) -> RawTable | None:
    files = select_files(root, table, dates)
    if not files:
        return None
    formats = {file_format(f) for f in files}
    if len(formats) > 1:
        raise JobError(f"{root}/{table}: mixed formats {sorted(formats)}")
    (fmt,) = formats
    if fmt != "parquet" and any(f.endswith(".zst") for f in files) and not _native_zstd(spark):
        raise JobError(
            f"{root}/{table}: zstd-compressed text needs Hadoop's native zstd codec, which this Spark "
            "lacks (EMR has it); produce gzip or Parquet for this runtime"
        )
    base = f"{root.rstrip('/')}/{table}"
    if fmt == "parquet":
        df = _with_landing(spark.read.schema(struct_type(schema)).option("basePath", base).parquet(*files))
        df = _typed_from_parquet(df, schema)
    elif fmt == "json":
        text = struct_type(schema, text=True).add(CORRUPT, "string")
        df = (
            spark.read.schema(text)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT)
            .option("basePath", base)
            .json(files)
        )
        df = _typed_from_text(_with_landing(df), schema, fmt)
    else:
        groups = _csv_groups(files, schema)
        frames = [_read_csv(spark, base, group, cols, schema) for cols, group in groups.items()]
        df = reduce(lambda a, b: a.unionByName(b), frames)
        df = _typed_from_text(df, schema, fmt)
    df = df.withColumn("_pos", F.monotonically_increasing_id())
    return RawTable(df=df, format=fmt, files=files, partitions=partitions_of(table))


def _with_landing(df):
    return df.select(
        "*",
        F.col("_metadata.file_path").alias("_file"),
        F.col("_metadata.file_block_start").alias("_block"),
    )


def _csv_groups(files: list[str], schema: TableSchema) -> dict[tuple[str, ...], list[str]]:
    """CSV files grouped by their header: each schema version has its own."""
    known = set(schema.names)
    groups: dict[tuple[str, ...], list[str]] = {}
    for f in files:
        header = tuple(read_text(f, lines=1).strip().split(","))
        unknown = [c for c in header if c not in known]
        if unknown:
            raise JobError(f"{f}: header has columns not in schemas/: {', '.join(unknown)}")
        groups.setdefault(header, []).append(f)
    return groups


def _read_csv(spark, base: str, files: list[str], header: tuple[str, ...], schema: TableSchema):
    from pyspark.sql import types as T

    by_name = {c.name: c for c in schema.columns}
    fields = [T.StructField(c, T.StringType()) for c in header] + [T.StructField(CORRUPT, T.StringType())]
    df = (
        spark.read.schema(T.StructType(fields))
        .option("header", True)
        .option("escape", '"')
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .option("basePath", base)
        .csv(files)
    )
    df = _with_landing(df)
    # Lists travel as JSON text in a CSV cell.
    for name in header:
        col = by_name[name]
        if col.type == "list":
            df = df.withColumn(f"_text_{name}", F.col(name)).withColumn(
                name, F.from_json(F.col(name), spark_type(col, text=True))
            )
    for col in schema.columns:
        if col.name not in header:
            df = df.withColumn(col.name, F.lit(None).cast(spark_type(col, text=True)))
    return df


def _inexact(text, col: Column):
    """True where a number's text is not exactly of its declared type: Spark's
    cast would truncate "1.5" to 1 and round "46.611" to 46.61."""
    if col.type in ("int64", "int32"):
        return ~text.rlike(r"^-?[0-9]+$")
    m = re.fullmatch(r"decimal\((\d+),(\d+)\)", col.type)
    if m:
        return ~text.rlike(rf"^-?[0-9]+(\.[0-9]{{1,{m.group(2)}}})?$")
    return None


def _failed_cast(raw, typed, col: Column):
    """True where a present value did not convert exactly (or a required one
    is missing)."""
    bad = raw.isNotNull() & typed.isNull()
    inexact = _inexact(raw, col)
    if inexact is not None:
        bad = bad | (raw.isNotNull() & inexact)
    if col.type == "list":
        def element_bad(x):
            checks = []
            for f in col.fields:
                cast = x[f.name].cast(spark_type(f))
                checks.append(x[f.name].isNotNull() & cast.isNull())
                field_inexact = _inexact(x[f.name], f)
                if field_inexact is not None:
                    checks.append(x[f.name].isNotNull() & field_inexact)
                if not f.nullable:
                    checks.append(x[f.name].isNull())
            return reduce(lambda a, b: a | b, checks)

        bad = bad | F.coalesce(F.exists(raw, element_bad), F.lit(False))
    return bad


def _required_missing(schema: TableSchema, table_keys: tuple[str, ...]):
    """Non-nullable columns that are null; key columns have their own rule."""
    checks = [F.col(c.name).isNull() for c in schema.columns if not c.nullable and c.name not in table_keys]
    return reduce(lambda a, b: a | b, checks, F.lit(False))


def _typed_from_text(df, schema: TableSchema, fmt: str):
    keys = contracts.table(schema.table).keys
    raw_json = F.to_json(F.struct(*[F.col(c) for c in schema.names]))
    corrupt = F.col(CORRUPT).isNotNull()
    # A corrupt JSON line that is still valid JSON had a value of the wrong
    # type; CSV rows are strings throughout, so a corrupt row is unparseable.
    valid_json = F.get_json_object(F.col(CORRUPT), "$").isNotNull() if fmt == "json" else F.lit(False)
    mismatches = []
    typed = []
    for col in schema.columns:
        raw = F.col(col.name)
        if col.type == "list":
            value = F.transform(raw, _element_cast(col))
            if f"_text_{col.name}" in df.columns:
                mismatches.append(F.col(f"_text_{col.name}").isNotNull() & raw.isNull())
        else:
            value = raw.cast(spark_type(col))
        mismatches.append(_failed_cast(raw, value, col))
        typed.append(value.alias(col.name))
    cast_failed = F.coalesce(reduce(lambda a, b: a | b, mismatches), F.lit(False))
    out = df.select(
        *typed,
        F.when(corrupt, F.col(CORRUPT)).when(cast_failed, raw_json).alias("_raw"),
        (corrupt & ~valid_json).alias("_unparseable"),
        ((corrupt & valid_json) | (~corrupt & cast_failed)).alias("_cast_failed"),
        *[F.col(p) for p in partitions_of(schema.table) if p in df.columns],
        "_file",
        "_block",
    )
    return out.withColumn(
        "_schema_mismatch", F.col("_cast_failed") | (~F.col("_unparseable") & _required_missing(schema, keys))
    ).drop("_cast_failed")


def _typed_from_parquet(df, schema: TableSchema):
    keys = contracts.table(schema.table).keys
    checks = [_required_missing(schema, keys)]
    for col in schema.columns:
        if col.type == "list":
            checks.append(F.coalesce(F.exists(F.col(col.name), _element_missing(col)), F.lit(False)))
    return df.select(
        *[F.col(c) for c in schema.names],
        F.lit(None).cast("string").alias("_raw"),
        F.lit(False).alias("_unparseable"),
        reduce(lambda a, b: a | b, checks).alias("_schema_mismatch"),
        *[F.col(p) for p in partitions_of(schema.table) if p in df.columns],
        "_file",
        "_block",
    )


# pyspark passes a lambda as many arguments as it declares, so the element
# functions close over their column instead of taking it as a default.
def _element_cast(col: Column):
    return lambda x: F.struct(*[x[f.name].cast(spark_type(f)).alias(f.name) for f in col.fields])


def _element_missing(col: Column):
    return lambda x: reduce(lambda a, b: a | b, [x[f.name].isNull() for f in col.fields if not f.nullable], F.lit(False))


def _native_zstd(spark) -> bool:
    loader = spark.sparkContext._jvm.org.apache.hadoop.util.NativeCodeLoader
    return bool(loader.isNativeCodeLoaded() and loader.buildSupportsZstd())
