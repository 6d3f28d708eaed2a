"""The whole pipeline on one machine, in the order AWS runs it: generate ->
bronze->silver (the EMR step) -> silver->gold (the Glue job, through the
local Glue stand-in, bookmarks on) -> load the Redshift marts (through the
local Redshift stand-in), then the BI queries. It prints a one-screen report
and writes `<dir>/report.json`.

    marketpulse-pipeline [--dir pipeline] [--scale 0.01] [--days 3] …

Each run starts from an empty `<dir>/{raw,silver,quarantine}`. The
data-quality gate (marketpulse_jobs.gate) runs after silver: a day above its
thresholds stops there with exit 3, and gold and the marts stay as they were.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path

from marketpulse_jobs import contracts
from marketpulse_jobs.utils import JobError

# The default world: a small week around Black Friday, every kind of dirt on.
DEFAULTS = {"seed": 42, "scale": 0.01, "start": "2025-11-24", "days": 7}
DIRTY = {"late": 0.01, "duplicates": 0.01, "near_duplicates": 0.005, "malformed": 0.01}
IAM_ROLE = "arn:aws:iam::123456789012:role/marketpulse-redshift"
# UNLOAD names the environment key; the stand-in leaves encryption to the
# lake (a folder, or the bucket's default).
KMS_KEY_ID = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
GLUE_GOLD_DATABASE = "marketpulse_gold"


def sql_dir() -> Path:
    """`jobs/redshift/sql`, shipped inside this package as `redshift_sql`."""
    return Path(str(files(__package__) / "redshift_sql"))


def entrypoint(name: str) -> Path:
    """A Glue entry point of `jobs/entrypoints`, shipped inside this package."""
    return Path(str(files(__package__) / "entrypoints" / f"{name}.py"))


class GateBlocked(JobError):
    """The data-quality gate stopped the run before gold (marketpulse_jobs.gate)."""


def _binary(explicit: str | None) -> str:
    chosen = explicit or os.environ.get("MARKETPULSE_BIN")
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise JobError(f"the marketpulse binary {chosen} does not exist or is not executable")
        return chosen
    for candidate in ("target/release/marketpulse", "target/debug/marketpulse"):
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("marketpulse")
    if not found:
        raise JobError("no marketpulse binary: build it (cargo build --release) or pass --binary")
    return found


class Lake:
    """Where the layers live: a local folder, or an S3 prefix (`s3://b/p`,
    with `endpoint` for an emulator such as moto). The producer and the
    Redshift stand-in say s3://, Spark says s3a:// (hadoop-aws)."""

    def __init__(self, uri: str, endpoint: str | None = None):
        self.s3 = uri.startswith("s3://")
        self.root = uri.rstrip("/") if self.s3 else str(Path(uri).resolve())
        self.endpoint = endpoint

    def uri(self, layer: str) -> str:
        return f"{self.root}/{layer}"

    def spark(self, layer: str) -> str:
        return "s3a://" + self.uri(layer)[len("s3://") :] if self.s3 else self.uri(layer)

    def _client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint)

    def _split(self, key: str) -> tuple[str, str]:
        bucket, _, prefix = self.root[len("s3://") :].partition("/")
        return bucket, f"{prefix}/{key}".lstrip("/")

    def clear(self, layers: list[str]) -> None:
        if not self.s3:
            for layer in layers:
                shutil.rmtree(self.uri(layer), ignore_errors=True)
            return
        s3 = self._client()
        for layer in layers:
            bucket, prefix = self._split(layer + "/")
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})

    def read_json(self, key: str):
        if not self.s3:
            return json.loads(Path(self.uri(key)).read_text())
        bucket, name = self._split(key)
        return json.loads(self._client().get_object(Bucket=bucket, Key=name)["Body"].read())

    def names(self, prefix: str) -> list[str]:
        """Keys (relative to the root) under `prefix`."""
        if not self.s3:
            base = Path(self.root)
            return sorted(str(p.relative_to(base)) for p in (base / prefix).rglob("*") if p.is_file())
        bucket, full = self._split(prefix)
        skip = len(full) - len(prefix)
        out = []
        for page in self._client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=full):
            out += [o["Key"][skip:] for o in page.get("Contents", [])]
        return sorted(out)

    def configure_spark(self, spark) -> None:
        """s3a pointed at the endpoint, path-style, with the usual AWS credentials."""
        if not (self.s3 and self.endpoint):
            return
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        settings = {
            "fs.s3a.endpoint": self.endpoint,
            "fs.s3a.path.style.access": "true",
            "fs.s3a.connection.ssl.enabled": str(self.endpoint.startswith("https")).lower(),
            "fs.s3a.change.detection.mode": "none",
        }
        if os.environ.get("AWS_ACCESS_KEY_ID"):
            settings["fs.s3a.access.key"] = os.environ["AWS_ACCESS_KEY_ID"]
            settings["fs.s3a.secret.key"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
            settings["fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        for key, value in settings.items():
            conf.set(key, value)


def generate(binary: str, lake: Lake, workdir: Path, opts) -> dict:
    config = workdir / "producer.toml"
    if opts.config:
        shutil.copyfile(opts.config, config)
    else:
        config.write_text("[dirty]\n" + "".join(f"{k} = {v}\n" for k, v in DIRTY.items()))
    cmd = [binary, "generate", "--out", lake.uri("raw"), "--quiet", "--config", str(config)]
    cmd += ["--seed", str(opts.seed), "--scale", str(opts.scale), "--start", opts.start, "--days", str(opts.days)]
    cmd += ["--clicks-v2-from", opts.clicks_v2_from]
    if lake.endpoint:
        cmd += ["--endpoint-url", lake.endpoint]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        raise JobError(f"generate failed: {why}")
    layout = contracts.layout()
    spec = lake.read_json(f"raw/{layout.dataset_claim}")["spec"]
    rows: dict[str, int] = {}
    for name in lake.names(f"raw/{layout.manifest_dir}/"):
        if layout.is_manifest(name.removeprefix("raw/")):
            for f in lake.read_json(name)["files"]:
                rows[f["domain"]] = rows.get(f["domain"], 0) + f["rows"]
    return {"spec": spec, "rows": rows}


def _quiet_spark(root: Path, master: str):
    """The session, with Spark's console progress and start-up warnings off
    (log4j reads SPARK_CONF_DIR when the JVM starts)."""
    from marketpulse_jobs.utils import SESSION_CONF
    from pyspark.sql import SparkSession

    conf = root / "_spark-conf"
    conf.mkdir(exist_ok=True)
    (conf / "log4j2.properties").write_text(
        "rootLogger.level = error\nrootLogger.appenderRef.stderr.ref = console\n"
        "appender.console.type = Console\nappender.console.name = console\nappender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\nappender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n\n"
    )
    os.environ.setdefault("SPARK_CONF_DIR", str(conf))
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName("marketpulse-pipeline").master(master)
    local = {
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        # One machine's data: a few shuffle partitions, not Spark's 200.
        "spark.sql.shuffle.partitions": str(2 * (os.cpu_count() or 2)),
    }
    for key, value in {**SESSION_CONF, **local}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _count(spark, uri: str) -> int:
    from marketpulse_jobs.utils import list_files

    return spark.read.parquet(uri).count() if list_files(uri) else 0


def run(opts) -> dict:
    from marketpulse_jobs import bronze_to_silver as b2s
    from marketpulse_jobs import gate
    from marketpulse_jobs.silver_to_gold import GOLD_TABLES
    from marketpulse_jobs.utils import SESSION_CONF

    from . import glue
    from .redshift import RedshiftLocal

    root = Path(opts.dir).resolve()
    binary = _binary(opts.binary)  # before anything is cleared
    lake = Lake(opts.lake or str(root), opts.endpoint_url)
    # Gold and the marts are cleared only once the quality gate passes: a
    # blocked day leaves the last good ones in place, as on AWS.
    lake.clear(["raw", "silver", "quarantine"])
    shutil.rmtree(root / "_spark-conf", ignore_errors=True)
    for stale in ("report.json", "producer.toml", "silver-metrics.json"):
        (root / stale).unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    report: dict = {"dir": str(root), "lake": lake.root}

    started = time.time()
    produced = generate(binary, lake, root, opts)
    spec = produced["spec"]
    report["producer"] = {k: spec[k] for k in ("seed", "scale", "start", "days", "format", "contract_version")}
    report["producer"]["clicks_v2_from"] = spec["world"].get("clicks_v2_from")
    report["producer"]["dirty"] = spec["dirty"]
    timings["generate"] = time.time() - started

    started = time.time()
    spark = _quiet_spark(root, opts.master)
    lake.configure_spark(spark)
    options = b2s.Options(
        raw=lake.spark("raw"),
        silver=lake.spark("silver"),
        quarantine=lake.spark("quarantine"),
        run_id="pipeline",
        metrics=str(root / "silver-metrics.json"),
    )
    silver_record = b2s.run(spark, options)
    silver_metrics = silver_record["tables"]
    timings["bronze_to_silver"] = time.time() - started
    verdicts = gate.judge(silver_record, gate.thresholds())
    blocked = gate.blocked_line(verdicts)
    if blocked:
        raise GateBlocked(blocked)
    report["quality_gate"] = {v.table: v.describe() for v in verdicts}
    lake.clear(["gold", "unload", "_bookmarks"])
    for stale in ("warehouse.duckdb", "gold-metrics.json"):
        (root / stale).unlink(missing_ok=True)

    started = time.time()
    saved = os.environ.get(glue.STORE_ENV)
    os.environ[glue.STORE_ENV] = lake.spark("_bookmarks")
    fx = ",".join(f"{k}={v}" for k, v in sorted(spec["world"]["fx_per_usd"].items()))
    try:
        glue.run_script(
            str(entrypoint("silver_to_gold")),
            ["--JOB_NAME", "silver_to_gold", "--job-bookmark-option", "job-bookmark-enable",
             "--silver", lake.spark("silver"), "--gold", lake.spark("gold"), "--fx_per_usd", fx,
             "--metrics", str(root / "gold-metrics.json"),
             "--conf", " --conf ".join(f"{k}={v}" for k, v in SESSION_CONF.items())],
        )  # fmt: skip
    finally:
        if saved is None:
            os.environ.pop(glue.STORE_ENV, None)
        else:
            os.environ[glue.STORE_ENV] = saved
    gold_metrics = json.loads((root / "gold-metrics.json").read_text())
    gold_rows = {t: _count(spark, f"{lake.spark('gold')}/{t}") for t in GOLD_TABLES}
    timings["silver_to_gold"] = time.time() - started

    started = time.time()
    warehouse = RedshiftLocal(
        str(root / "warehouse.duckdb"),
        params={
            "gold_uri": lake.uri("gold"),
            "unload_uri": lake.uri("unload"),
            "iam_role": IAM_ROLE,
            "kms_key_id": KMS_KEY_ID,
            "glue_gold_database": GLUE_GOLD_DATABASE,
        },
        catalog={GLUE_GOLD_DATABASE: lake.uri("gold")},
        s3_endpoint=lake.endpoint,
    )
    sql = sql_dir()
    for part in ("ddl/marts.sql", "load/copy_marts.sql", "serve/external_schema.sql", "serve/unload_marts.sql"):
        warehouse.run_file(sql / part)
    marts = {t: warehouse.con.execute(f"SELECT count(*) FROM marts.{t}").fetchone()[0] for t in GOLD_TABLES}
    queries = {}
    for path in sorted((sql / "queries").glob("*.sql")):
        t0 = time.time()
        _, rows = warehouse.query(path.read_text())
        queries[path.stem] = {"rows": len(rows), "seconds": round(time.time() - t0, 3)}
    warehouse.con.close()
    timings["marts"] = time.time() - started

    silver_sales = silver_metrics.get("sales", {}).get("silver_rows", 0)
    silver_clicks = silver_metrics.get("clicks", {}).get("silver_rows", 0)
    fct = gold_check(spark, lake.spark("gold"))
    report["stages"] = {
        "raw": produced["rows"],
        "silver": {t: v.get("silver_rows", 0) for t, v in silver_metrics.items()},
        "quarantined": {t: v.get("quarantined", 0) for t, v in silver_metrics.items()},
        "duplicates_removed": {t: v.get("duplicates_removed", 0) for t, v in silver_metrics.items()},
        "gold": gold_rows,
        "marts": marts,
    }
    report["balance"] = {
        **{
            f"raw = silver + quarantined + duplicates ({t})": produced["rows"].get(t, 0)
            == v.get("silver_rows", 0) + v.get("quarantined", 0) + v.get("duplicates_removed", 0)
            for t, v in silver_metrics.items()
        },
        "gold sales transactions = silver sales": fct["sales_transactions"] == silver_sales,
        "gold page views = silver clicks": fct["clicks"] == silver_clicks,
        "marts = gold (every table)": marts == gold_rows,
    }
    report["gold_run"] = {k: gold_metrics[k] for k in ("run_id", "days")}
    report["queries"] = queries
    report["seconds"] = {k: round(v, 1) for k, v in timings.items()}
    (root / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    return report


def gold_check(spark, gold: str) -> dict:
    """Totals of gold that silver fixes: sales counted once, every click once."""
    from pyspark.sql import functions as F

    sales = spark.read.parquet(f"{gold}/sales_by_store").agg(F.sum("transactions")).first()[0] or 0
    clicks = spark.read.parquet(f"{gold}/fct_clicks_agg").agg(F.sum("clicks")).first()[0] or 0
    return {"sales_transactions": int(sales), "clicks": int(clicks)}


def report_tables() -> list[str]:
    """The producer's tables as the report's columns: event tables first."""
    found = contracts.tables()
    return sorted(found, key=lambda t: not found[t].is_event)


def render(report: dict) -> str:
    p = report["producer"]
    tables = report_tables()
    dirty = ", ".join(f"{k} {v}" for k, v in sorted(p["dirty"].items()) if k in DIRTY)
    lines = [
        f"MarketPulse pipeline: layers in {report['lake']}",
        f"producer: seed {p['seed']}, scale {p['scale']}, {p['days']} days from {p['start']}, {p['format']}; dirty: {dirty}",
        "",
        f"{'stage':<22}" + "".join(f"{t:>12}" for t in tables),
    ]
    st = report["stages"]
    for stage in ("raw", "silver", "quarantined", "duplicates_removed"):
        lines.append(f"{stage:<22}" + "".join(f"{st[stage].get(t, 0):>12,}" for t in tables))
    lines += ["", f"{'gold table':<22}{'gold rows':>12}{'marts rows':>12}"]
    for t, n in st["gold"].items():
        lines.append(f"{t:<22}{n:>12,}{st['marts'].get(t, 0):>12,}")
    lines.append("")
    for check, ok in report["balance"].items():
        lines.append(f"{'ok  ' if ok else 'FAIL'} {check}")
    slowest = max(report["queries"].items(), key=lambda kv: kv[1]["seconds"])
    lines.append(
        f"BI queries: {len(report['queries'])} ran, slowest {slowest[0]} {slowest[1]['seconds']:.2f} s"
    )
    secs = report["seconds"]
    lines.append("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in secs.items()))
    lines.append(f"report: {report['dir']}/report.json, marts: {report['dir']}/warehouse.duckdb")
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_args(argv=None):
    p = _Parser(prog="marketpulse-pipeline", description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", default=os.environ.get("PIPELINE_DIR", "pipeline"), help="working folder ($PIPELINE_DIR)")
    p.add_argument("--lake", help="where raw, silver, gold live: s3://bucket/prefix (default: the working folder)")
    p.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"), help="S3 endpoint (moto)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--scale", type=float, default=DEFAULTS["scale"])
    p.add_argument("--start", default=DEFAULTS["start"], help="first day, YYYY-MM-DD")
    p.add_argument("--days", type=int, default=DEFAULTS["days"])
    p.add_argument("--clicks-v2-from", help="first day of clicks v2 (default: mid-run, so both versions flow)")
    p.add_argument("--config", help="producer TOML (default: the [dirty] rates above)")
    p.add_argument("--binary", help="the marketpulse binary (default: target/release, target/debug, PATH)")
    p.add_argument("--master", default="local[2]", help="Spark master")
    a = p.parse_args(argv)
    if a.config and not Path(a.config).is_file():
        p.error(f"--config: {a.config} is not a file")
    if a.lake and not a.lake.startswith("s3://"):
        p.error("--lake takes s3://bucket/prefix (a local lake is --dir)")
    if a.days < 1:
        p.error("--days must be at least 1")
    try:
        start = datetime.date.fromisoformat(a.start)
        if a.clicks_v2_from is None:
            a.clicks_v2_from = (start + datetime.timedelta(days=a.days // 2)).isoformat()
        datetime.date.fromisoformat(a.clicks_v2_from)
    except ValueError as e:
        p.error(f"--start/--clicks-v2-from: {e}")
    return a


def main(argv=None) -> int:
    opts = parse_args(argv)
    Path(opts.dir).mkdir(parents=True, exist_ok=True)
    log = Path(opts.dir) / "jobs.log"
    try:
        # The jobs' own lines (CloudWatch EMF documents, Spark) go to the log;
        # the screen gets the report.
        with log.open("w") as out, contextlib.redirect_stdout(out):
            report = run(opts)
    except GateBlocked as e:
        print(f"marketpulse-pipeline: {e}; gold and the marts are unchanged", file=sys.stderr)
        return 3
    except JobError as e:
        print(f"marketpulse-pipeline: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 -- Spark, S3 or SQL: one line, the rest is in jobs.log
        import traceback

        with log.open("a") as out:
            out.write(traceback.format_exc())
        first = (str(e).strip().splitlines() or [""])[0]
        print(f"marketpulse-pipeline: error: {type(e).__name__}: {first} (traceback in {log})", file=sys.stderr)
        return 1
    print(render(report))
    return 0 if all(report["balance"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
