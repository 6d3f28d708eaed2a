"""Shared pieces of the jobs: table schemas from `schemas/`, Spark and Glue
types derived from them, the SparkSession, the raw lake's manifests, and
metrics output (JSON and CloudWatch EMF)."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

SCHEMAS_ENV = "MARKETPULSE_SCHEMAS"


class JobError(Exception):
    """A problem with the job's input or arguments, reported in one line."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    fields: tuple[Column, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class TableSchema:
    table: str
    version: int
    columns: tuple[Column, ...]
    # Gold tables: the date column whose value names the `dt=` partition.
    partitioned_by: str | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def schemas_dir():
    """`$MARKETPULSE_SCHEMAS`, else the copy inside the wheel (read through
    importlib.resources, so it works from a zipped wheel on `--py-files`),
    else the repository's."""
    if os.environ.get(SCHEMAS_ENV):
        return Path(os.environ[SCHEMAS_ENV])
    from importlib.resources import files

    packaged = files("marketpulse_jobs") / "schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "schemas"


def _column(raw: dict) -> Column:
    return Column(
        name=raw["name"],
        type=raw["type"],
        nullable=bool(raw.get("nullable", True)),
        fields=tuple(_column(f) for f in raw.get("fields", [])),
        description=raw.get("description", ""),
    )


def load_schemas(directory=None) -> dict[str, list[TableSchema]]:
    """Every table's versions, oldest first: the producer's tables in
    `schemas/`, or the jobs' own in `schemas/jobs/` (see `job_schema`)."""
    directory = directory or schemas_dir()
    tables: dict[str, list[TableSchema]] = {}
    paths = sorted((p for p in directory.iterdir() if p.name.endswith(".json")), key=lambda p: p.name)
    for path in paths:
        raw = json.loads(path.read_text())
        columns = tuple(_column(c) for c in raw["columns"])
        schema = TableSchema(raw["table"], int(raw["version"]), columns, raw.get("partitioned_by"))
        tables.setdefault(schema.table, []).append(schema)
    if not tables:
        raise JobError(f"no table schemas in {directory}")
    for versions in tables.values():
        versions.sort(key=lambda s: s.version)
    return tables


def job_schema(table: str) -> TableSchema:
    """A table the jobs write that the producer does not (`schemas/jobs/`)."""
    return silver_schema(load_schemas(schemas_dir() / "jobs")[table])


def gold_schemas() -> dict[str, TableSchema]:
    """The gold tables (`schemas/gold/`), newest version of each."""
    return {t: silver_schema(v) for t, v in load_schemas(schemas_dir() / "gold").items()}


def silver_schema(versions: list[TableSchema]) -> TableSchema:
    """The newest version, which must keep every older column with its type:
    schemas only grow, so older rows read with null new columns. Columns an
    older version lacks are nullable in silver."""
    newest = versions[-1]
    by_name = {c.name: c for c in newest.columns}
    for old in versions[:-1]:
        for col in old.columns:
            new = by_name.get(col.name)
            if new is None or (new.type, new.fields) != (col.type, col.fields):
                raise JobError(
                    f"schemas: {newest.table} v{newest.version} drops or retypes column '{col.name}' of v{old.version}"
                )
    # A column an older version lacks is null in that version's rows, so
    # silver can require it of no row.
    oldest = {c.name for c in versions[0].columns}
    columns = tuple(c if c.name in oldest else replace(c, nullable=True) for c in newest.columns)
    return replace(newest, columns=columns)


_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")


def spark_type(col: Column, text: bool = False):
    """The Spark type of a column; `text` gives strings for every leaf, for
    reading JSON and CSV before typed casts."""
    from pyspark.sql import types as T

    if col.type == "list":
        return T.ArrayType(T.StructType([struct_field(f, text) for f in col.fields]), containsNull=False)
    if col.type == "list<string>":
        return T.ArrayType(T.StringType())
    if text:
        return T.StringType()
    simple = {
        "int64": T.LongType(),
        "int32": T.IntegerType(),
        "string": T.StringType(),
        "bool": T.BooleanType(),
        "float64": T.DoubleType(),
        "date": T.DateType(),
        "timestamp_us_utc": T.TimestampType(),
    }
    if col.type in simple:
        return simple[col.type]
    m = _DECIMAL.fullmatch(col.type)
    if m:
        return T.DecimalType(int(m.group(1)), int(m.group(2)))
    raise JobError(f"schemas: column '{col.name}' has unknown type '{col.type}'")


def struct_field(col: Column, text: bool = False):
    from pyspark.sql import types as T

    return T.StructField(col.name, spark_type(col, text), nullable=True)


def struct_type(schema: TableSchema, text: bool = False):
    from pyspark.sql import types as T

    return T.StructType([struct_field(c, text) for c in schema.columns])


def glue_type(col: Column) -> str:
    """The Hive/Glue type name of a column."""
    if col.type == "list":
        inner = ",".join(f"{f.name}:{glue_type(f)}" for f in col.fields)
        return f"array<struct<{inner}>>"
    if col.type == "list<string>":
        return "array<string>"
    names = {
        "int64": "bigint",
        "int32": "int",
        "string": "string",
        "bool": "boolean",
        "float64": "double",
        "date": "date",
        "timestamp_us_utc": "timestamp",
    }
    if col.type in names:
        return names[col.type]
    if _DECIMAL.fullmatch(col.type):
        return col.type
    raise JobError(f"schemas: column '{col.name}' has unknown type '{col.type}'")


def spark_session(app: str = "marketpulse", master: str | None = None):
    """A SparkSession as the jobs need it: dynamic partition overwrite,
    partition values kept as strings, timestamps in UTC and written as
    TIMESTAMP_MICROS."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app)
    if master:
        builder = builder.master(master)
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _session_conf() -> dict[str, str]:
    from importlib.resources import files

    return json.loads((files("marketpulse_jobs") / "spark_conf.json").read_text())


# The jobs' Spark settings, declared once in spark_conf.json: EMR steps and
# the local runs set them when building the session, the Glue job gets them
# as its `--conf` job parameter (infra/modules/glue reads the same file).
SESSION_CONF = _session_conf()


def hadoop_fs(path: str):
    """The Hadoop file system and path object for `path`: local paths,
    file://, s3:// (EMRFS) and s3a:// alike."""
    from pyspark.sql import SparkSession

    sc = SparkSession.getActiveSession().sparkContext
    jpath = sc._jvm.org.apache.hadoop.fs.Path(path)
    return jpath.getFileSystem(sc._jsc.hadoopConfiguration()), jpath, sc


def read_text(path: str, lines: int | None = None) -> str:
    """A small file's text (its first `lines` lines when given), decompressed
    by its extension."""
    fs, jpath, sc = hadoop_fs(path)
    stream = fs.open(jpath)
    try:
        codec = sc._jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(sc._jsc.hadoopConfiguration()).getCodec(
            jpath
        )
        source = codec.createInputStream(stream) if codec is not None else stream
        reader = sc._jvm.java.io.BufferedReader(sc._jvm.java.io.InputStreamReader(source, "UTF-8"))
        found = []
        while lines is None or len(found) < lines:
            line = reader.readLine()
            if line is None:
                break
            found.append(line)
        return "\n".join(found)
    finally:
        stream.close()


def write_text(path: str, text: str) -> None:
    """Writes a small file, replacing it."""
    fs, jpath, _ = hadoop_fs(path)
    out = fs.create(jpath, True)
    try:
        out.write(bytearray(text.encode()))
    finally:
        out.close()


def list_files(root: str) -> list[str]:
    """Data files below `root` (recursively), skipping hidden and `_` names:
    `_manifests`, `_SUCCESS`, `.part` temps, `_temporary` of a writer in flight."""
    fs, path, _ = hadoop_fs(root)
    if not fs.exists(path):
        return []
    qualified = fs.makeQualified(path)
    if qualified.toUri().getScheme() == "file":
        return _list_local(str(qualified).rstrip("/"), str(qualified.toUri().getPath()).rstrip("/"))
    return _list_hadoop(fs, qualified)


def _list_hadoop(fs, qualified) -> list[str]:
    """One recursive listing: on S3, a LIST request per thousand objects
    rather than one per folder."""
    base = str(qualified.toUri().getPath()).rstrip("/")
    out = []
    it = fs.listFiles(qualified, True)
    while it.hasNext():
        p = it.next().getPath()
        below = str(p.toUri().getPath())[len(base) :].strip("/").split("/")
        if not any(part.startswith((".", "_")) for part in below):
            out.append(str(p))
    return sorted(out)


def _list_local(uri: str, folder: str) -> list[str]:
    """list_files on a local folder, named as Hadoop names it (`file:/…`).
    Without its native library (pip's PySpark has none) Hadoop's local
    listing runs `ls -ld` for each file's permissions: a second or two per
    hundred files."""
    out = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        rel = os.path.relpath(here, folder)
        prefix = uri if rel == "." else f"{uri}/{rel}"
        out += [f"{prefix}/{f}" for f in files if not f.startswith((".", "_"))]
    return sorted(out)


def delete_paths(paths: list[str]) -> None:
    """Deletes folders or files (recursively)."""
    for p in paths:
        fs, path, _ = hadoop_fs(p)
        fs.delete(path, True)


def glob_paths(pattern: str) -> list[str]:
    """Paths matching a Hadoop glob (`*` within one level)."""
    fs, path, _ = hadoop_fs(pattern)
    found = fs.globStatus(path)
    return sorted(str(s.getPath()) for s in (found or []))


@dataclass
class Metrics:
    """One run's metrics record: written as JSON and as CloudWatch EMF lines."""

    job: str
    run_id: str
    started: float = field(default_factory=time.time)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self, table: str, values: dict[str, Any]) -> None:
        self.tables[table] = values

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "run_id": self.run_id,
            "duration_s": round(time.time() - self.started, 3),
            "tables": self.tables,
        }

    def emf_lines(self, namespace: str = "MarketPulse/Jobs") -> list[str]:
        """One EMF document per table: CloudWatch turns the numeric counts
        into metrics with dimensions Job and Table."""
        lines = []
        now = int(time.time() * 1000)
        for table, values in self.tables.items():
            counts = {k: v for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            doc = {
                "_aws": {
                    "Timestamp": now,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": namespace,
                            "Dimensions": [["Job", "Table"]],
                            "Metrics": [
                                {"Name": k, "Unit": "Seconds" if k.endswith("_s") else "Count"} for k in sorted(counts)
                            ],
                        }
                    ],
                },
                "Job": self.job,
                "Table": table,
                "RunId": self.run_id,
                **counts,
            }
            lines.append(json.dumps(doc, sort_keys=True))
        return lines
