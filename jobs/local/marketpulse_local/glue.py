"""A local stand-in for the Glue runtime, so a Glue entry point runs
unchanged on plain PySpark (Glue's `GlueContext`, `Job` and `DynamicFrame`
need its Java runtime, which is not installable outside Glue).

    marketpulse-glue-local run jobs/entrypoints/silver_to_gold.py \\
        --JOB_NAME silver_to_gold --job-bookmark-option job-bookmark-enable --silver … --gold …
    marketpulse-glue-local reset-job-bookmark silver_to_gold

`awsglue.utils.getResolvedOptions` is the real one (PyPI
`awsgluedataplanepython`). `GlueContext` and `Job` subclass the real classes
and replace only what calls the JVM: S3 sources in Parquet, and bookmarks.

Bookmarks mimic Glue's: with `job-bookmark-enable`, a source with a
`transformation_ctx` returns only what that context has not processed yet,
and `Job.commit()` records it. The unit here is a partition (a folder of
data files) together with its file names, so a partition that a re-run
rewrote counts as new again, as it does for Glue, which tracks files.
With nothing new, the frame is empty and has no columns at all, as Glue's.
`job-bookmark-pause` reads by the bookmark without moving it;
`job-bookmark-disable` reads everything. State is one JSON file per job
under `$MARKETPULSE_GLUE_BOOKMARKS` (a path, file:// or s3a://; default
`.glue-bookmarks`), written at commit. A `--conf k=v --conf k2=v2` job
parameter is set on the session before the script runs, as Glue does;
`marketpulse-glue-local run` starts from Spark's defaults otherwise.
"""

from __future__ import annotations

import json
import runpy
import sys
import types

from awsglue.context import GlueContext as _GlueContext
from awsglue.dynamicframe import DynamicFrameReader
from awsglue.job import Job as _Job
from marketpulse_jobs.utils import (
    JobError,
    delete_paths,
    hadoop_fs,
    list_files,
    read_text,
    write_text,
)
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

STORE_ENV = "MARKETPULSE_GLUE_BOOKMARKS"
DEFAULT_STORE = ".glue-bookmarks"


def store_root() -> str:
    import os

    return os.environ.get(STORE_ENV, DEFAULT_STORE).rstrip("/")


def _state_path(job_name: str) -> str:
    return f"{store_root()}/{job_name}.json"


def load_state(job_name: str) -> dict[str, dict[str, list[str]]]:
    """transformation_ctx -> partition folder -> its file names."""
    fs, path, _ = hadoop_fs(_state_path(job_name))
    if not fs.exists(path):
        return {}
    return json.loads(read_text(_state_path(job_name)))


def _save_state(job_name: str, state: dict) -> None:
    # Written aside, then renamed: a crash never leaves half a bookmark.
    final = _state_path(job_name)
    temp = f"{final}.tmp"
    write_text(temp, json.dumps(state, indent=1, sort_keys=True) + "\n")
    fs, dest, sc = hadoop_fs(final)
    fs.delete(dest, False)
    if not fs.rename(sc._jvm.org.apache.hadoop.fs.Path(temp), dest):
        raise JobError(f"cannot write the bookmark {final}")


class DynamicFrame:
    """What the job uses of Glue's DynamicFrame: `toDF()` and `count()`."""

    def __init__(self, df, name: str = ""):
        self._df = df
        self.name = name

    def toDF(self):
        return self._df

    def count(self) -> int:
        return self._df.count()


class GlueContext(_GlueContext):
    def __init__(self, spark_context=None, **_options):
        spark = SparkSession.builder.getOrCreate()
        # SQLContext's constructor only, not Glue's JVM context.
        super(_GlueContext, self).__init__(spark.sparkContext, spark)
        self.spark_session = spark
        self.create_dynamic_frame = DynamicFrameReader(self)
        self._job: Job | None = None

    def create_dynamic_frame_from_options(
        self,
        connection_type,
        connection_options={},  # noqa: B006 -- Glue's signature
        format=None,
        format_options={},  # noqa: B006
        transformation_ctx="",
        push_down_predicate="",
        **kwargs,
    ):
        if connection_type != "s3" or format != "parquet":
            raise JobError(f"the local Glue stand-in reads s3 parquet only, not {connection_type} {format}")
        roots = [p.rstrip("/") for p in connection_options.get("paths", [])]
        partitions: dict[str, list[str]] = {}
        for root in roots:
            for f in list_files(root):
                folder, name = f.rsplit("/", 1)
                partitions.setdefault(folder, []).append(name)
        job = self._job
        seen = job.seen(transformation_ctx) if job and transformation_ctx else {}
        new = {k: sorted(v) for k, v in partitions.items() if seen.get(_relative(k, roots)) != sorted(v)}
        if job and transformation_ctx:
            job.pending(transformation_ctx, {_relative(k, roots): v for k, v in new.items()})
        column = connection_options.get("attachFilename")
        if not new:
            # What Glue returns when the bookmark has seen every file: an
            # empty frame without a single column, not even attachFilename's.
            return DynamicFrame(self.spark_session.createDataFrame([], StructType([])), transformation_ctx)
        df = self.spark_session.read.option("basePath", roots[0]).parquet(*sorted(new))
        if column:
            df = df.withColumn(column, F.input_file_name())
        return DynamicFrame(df, transformation_ctx)


def _relative(folder: str, roots: list[str]) -> str:
    """A partition folder as the bookmark keys it: below its source root."""
    for root in roots:
        tail = root.split("//", 1)[-1].lstrip("/")
        i = folder.find(tail)
        if i >= 0:
            return folder[i + len(tail) :].strip("/")
    return folder


class Job(_Job):
    def __init__(self, glue_context):
        if not isinstance(glue_context, GlueContext):
            raise JobError("the local Glue stand-in's Job takes its GlueContext")
        self._glue_context = glue_context
        self._spark_session = glue_context.spark_session
        self._name: str | None = None
        self._option = "job-bookmark-disable"
        self._state: dict = {}
        self._pending: dict = {}
        glue_context._job = self

    def init(self, job_name, args={}):  # noqa: B006 -- Glue's signature
        self._name = job_name
        self._option = args.get("job_bookmark_option") or "job-bookmark-disable"
        self._state = load_state(job_name) if self._option != "job-bookmark-disable" else {}
        self._pending = {}

    def isInitialized(self):
        return self._name is not None

    def seen(self, ctx: str) -> dict[str, list[str]]:
        return self._state.get(ctx, {})

    def pending(self, ctx: str, partitions: dict[str, list[str]]) -> None:
        self._pending.setdefault(ctx, {}).update(partitions)

    def commit(self):
        if self._name is None:
            raise JobError("Job.commit() before Job.init()")
        if self._option == "job-bookmark-enable" and self._pending:
            state = {ctx: dict(parts) for ctx, parts in self._state.items()}
            for ctx, parts in self._pending.items():
                state.setdefault(ctx, {}).update(parts)
            _save_state(self._name, state)
            self._state, self._pending = state, {}


def reset_job_bookmark(job_name: str) -> None:
    """As `aws glue reset-job-bookmark`: the next run processes everything."""
    delete_paths([_state_path(job_name)])


def install() -> None:
    """Points `awsglue.context` and `awsglue.job` at the stand-in, so an entry
    point's own imports get it."""
    for name, cls in (("awsglue.context", GlueContext), ("awsglue.job", Job)):
        module = types.ModuleType(name)
        setattr(module, cls.__name__, cls)
        sys.modules[name] = module


def job_conf(argv: list[str]) -> dict[str, str]:
    """The Spark settings of a `--conf` job parameter, which Glue takes as
    `k=v --conf k2=v2 …` in one value."""
    found: dict[str, str] = {}
    for i, arg in enumerate(argv[:-1]):
        if arg == "--conf":
            for pair in argv[i + 1].split(" --conf "):
                key, sep, value = pair.strip().partition("=")
                if not sep or not key.startswith("spark."):
                    raise JobError(f"--conf: '{pair.strip()}' is not spark.NAME=VALUE")
                found[key] = value
    return found


def run_script(script: str, argv: list[str]) -> None:
    """Runs a Glue entry point script in this process with `argv`, with the
    Spark settings of its `--conf` set on the session first, as Glue sets
    them on the job's."""
    install()
    settings = job_conf(argv)
    if settings:
        session = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
        for key, value in settings.items():
            session.conf.set(key, value)
    saved = sys.argv
    sys.argv = [script, *argv]
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        sys.argv = saved


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: marketpulse-glue-local run SCRIPT [glue arguments…] | marketpulse-glue-local reset-job-bookmark JOB_NAME"
    if len(argv) < 2 or argv[0] not in ("run", "reset-job-bookmark"):
        print(usage, file=sys.stderr)
        return 2
    # Glue's session has Spark's defaults: the job's own settings come from
    # its `--conf` parameter (run_script), as on Glue.
    SparkSession.builder.appName("marketpulse-glue-local").getOrCreate()
    try:
        if argv[0] == "reset-job-bookmark":
            reset_job_bookmark(argv[1])
            return 0
        run_script(argv[1], argv[2:])
    except JobError as e:
        print(f"marketpulse-glue-local: error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    except Exception as e:  # noqa: BLE001 -- the job's own error, in one line
        first = (str(e).strip().splitlines() or [""])[0]
        print(f"marketpulse-glue-local: error: {type(e).__name__}: {first}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
