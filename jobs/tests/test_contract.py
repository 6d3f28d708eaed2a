"""The jobs follow `schemas/`: Spark types, rule columns, a new column, the
quarantine table; the command line and the EMR step definition."""

import json
import re
import shutil
from pathlib import Path
from string import Template

import pytest
from marketpulse_jobs import bronze_to_silver as b2s
from marketpulse_jobs import contracts, dq, utils
from marketpulse_jobs.utils import JobError, load_schemas, silver_schema, struct_type
from marketpulse_testkit import REPO
from pyspark.sql import types as T

SPARK_TYPES = {
    "int64": T.LongType(),
    "int32": T.IntegerType(),
    "string": T.StringType(),
    "bool": T.BooleanType(),
    "date": T.DateType(),
    "timestamp_us_utc": T.TimestampType(),
    "decimal(12,2)": T.DecimalType(12, 2),
}


def test_spark_schemas_are_the_schema_files():
    for path in sorted((REPO / "schemas").glob("*.json")):
        raw = json.loads(path.read_text())
        versions = load_schemas()[raw["table"]]
        spark = struct_type(silver_schema(versions))
        by_name = {f.name: f.dataType for f in spark.fields}
        for col in raw["columns"]:
            if col["type"] == "list":
                inner = {f.name: f.dataType for f in by_name[col["name"]].elementType.fields}
                assert inner == {f["name"]: SPARK_TYPES[f["type"]] for f in col["fields"]}
            else:
                assert by_name[col["name"]] == SPARK_TYPES[col["type"]], (path.name, col["name"])
    assert set(load_schemas()) == set(contracts.table_names())
    assert b2s.parse_args(["--raw", "r", "--silver", "s", "--quarantine", "q"]).tables == contracts.table_names()


def test_every_column_a_table_contract_names_is_declared():
    schemas = {t: set(silver_schema(v).names) for t, v in load_schemas().items()}
    for table, t in contracts.tables().items():
        assert t.columns() <= schemas[table], table
        assert t.id in t.keys, table
        for snapshot, key in t.foreign_keys.values():
            assert key in schemas[snapshot]
    for rule in dq.RULES:
        assert rule.action in (dq.QUARANTINE, dq.WARN, dq.DROP, dq.DEDUP) and rule.description
        assert any(rule in dq.rules_for(t) for t in contracts.table_names()), f"{rule.id} checks no table"


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t[2].update(id="sale_id"), "sales names column(s) sale_id that its schema lacks"),
        (lambda t: t[3]["foreign_keys"].update(user_id="users.id"), "clicks.user_id refers to users.id"),
        (lambda t: t.pop(0), "lists clicks, sales, stores; the schema files are of clicks, sales, stores, users"),
    ],
)
def test_table_contracts_that_disagree_with_the_schema_files_are_refused(tmp_path, monkeypatch, edit, message):
    schemas = copy_schemas(tmp_path, monkeypatch)
    path = schemas / "lake" / "tables.json"
    doc = json.loads(path.read_text())
    edit(doc["tables"])
    path.write_text(json.dumps(doc))
    with pytest.raises(JobError, match=re.escape(message)):
        contracts.tables()


def copy_schemas(tmp_path, monkeypatch) -> Path:
    schemas = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", schemas)
    monkeypatch.setenv("MARKETPULSE_SCHEMAS", str(schemas))
    return schemas


def test_a_column_added_to_schemas_reaches_silver(spark, lakes, tmp_path, monkeypatch):
    """A new nullable version of sales flows through with no code change;
    its column is null for rows that predate it."""
    schemas = copy_schemas(tmp_path, monkeypatch)
    sales = json.loads((schemas / "sales.v1.json").read_text())
    sales["version"] = 2
    sales["columns"].append({"name": "coupon_code", "type": "string", "nullable": True, "description": "Coupon."})
    (schemas / "sales.v2.json").write_text(json.dumps(sales))
    out = tmp_path / "out"
    argv = ["--raw", str(lakes("parquet")), "--silver", str(out / "s"), "--quarantine", str(out / "q"), "--tables", "sales"]
    assert b2s.main(argv, spark=spark) == 0
    got = spark.read.parquet(str(out / "s" / "sales"))
    assert "coupon_code" in got.columns
    assert got.where("coupon_code IS NOT NULL").count() == 0 and got.count() > 0


def test_a_quarantine_column_the_job_does_not_fill_fails_the_run(spark, lakes, tmp_path, monkeypatch, capsys):
    schemas = copy_schemas(tmp_path, monkeypatch)
    q = json.loads((schemas / "jobs" / "quarantine.v1.json").read_text())
    q["version"] = 2
    q["columns"].append({"name": "operator_note", "type": "string", "nullable": True, "description": "x"})
    (schemas / "jobs" / "quarantine.v2.json").write_text(json.dumps(q))
    out = tmp_path / "out"
    argv = ["--raw", str(lakes("parquet")), "--silver", str(out / "s"), "--quarantine", str(out / "q"), "--tables", "sales"]
    assert b2s.main(argv, spark=spark) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["bronze_to_silver: error: schemas/jobs/quarantine: no value for column(s) operator_note"]


def test_a_schema_version_that_drops_a_column_is_refused(tmp_path, monkeypatch):
    schemas = copy_schemas(tmp_path, monkeypatch)
    clicks = json.loads((schemas / "clicks.v2.json").read_text())
    clicks["version"] = 3
    clicks["columns"] = [c for c in clicks["columns"] if c["name"] != "referrer"]
    (schemas / "clicks.v3.json").write_text(json.dumps(clicks))
    with pytest.raises(JobError, match="clicks v3 drops or retypes column 'referrer'"):
        silver_schema(load_schemas()["clicks"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ingest-dates", "2024-13-01"], "--ingest-dates: '2024-13-01' is not a date"),
        (["--target-file-mb", "0"], "--target-file-mb must be above 0"),
        (["--ingest-dates", ""], "--ingest-dates is empty"),
        (["--amount-tolerance", "abc"], "'abc' is not a number"),
        ([], None),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, message, capsys):
    if message is None:  # a required argument missing
        args, message = ["--raw", "r"], "the following arguments are required: --silver, --quarantine"
    else:
        args = ["--raw", "r", "--silver", "s", "--quarantine", "q", *args]
    with pytest.raises(SystemExit) as e:
        b2s.parse_args(args)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_a_raw_folder_without_data_is_an_error(spark, tmp_path, capsys):
    argv = ["--raw", str(tmp_path / "nothing"), "--silver", str(tmp_path / "s"), "--quarantine", str(tmp_path / "q")]
    assert b2s.main(argv, spark=spark) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no raw files" in err[0], err
    assert not (tmp_path / "s").exists()


def test_the_emr_step_runs_the_wheel_with_arguments_the_job_accepts(fake_aws):
    from moto import mock_aws

    text = (REPO / "deploy" / "emr" / "steps" / "bronze_to_silver.json").read_text()
    values = {
        "ARTIFACTS_BUCKET": "mp-artifacts",
        "JOBS_VERSION": "0.1.0",
        "RAW_LAKE": "s3://mp-raw/daily/2024-01-02/",
        "SILVER_BUCKET": "mp-silver",
        "INGEST_DATE": "2024-01-02",
        "RUN_ID": "r1",
        "GLUE_DATABASE": "marketpulse_silver",
    }
    step = json.loads(Template(text).substitute(values))
    args = step["HadoopJarStep"]["Args"]
    script = next(i for i, a in enumerate(args) if a.endswith("entrypoints/bronze_to_silver.py"))
    assert args[args.index("--py-files") + 1].endswith("marketpulse_jobs-0.1.0-py3-none-any.whl")
    opts = b2s.parse_args(args[script + 1 :])
    assert opts.ingest_dates == ["2024-01-02"] and opts.glue_database == "marketpulse_silver"
    assert opts.raw == "s3://mp-raw/daily/2024-01-02/"
    assert (REPO / "jobs" / "entrypoints" / "bronze_to_silver.py").exists()
    with mock_aws():
        import boto3

        emr = boto3.client("emr")
        cluster = emr.run_job_flow(
            Name="t",
            ReleaseLabel="emr-7.5.0",
            Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
        )["JobFlowId"]
        (step_id,) = emr.add_job_flow_steps(JobFlowId=cluster, Steps=[step])["StepIds"]
        listed = emr.describe_step(ClusterId=cluster, StepId=step_id)["Step"]
        assert listed["Config"]["Args"] == args


def test_zstd_text_without_the_native_codec_is_a_clear_error(spark, lakes, tmp_path, capsys):
    """Local pyspark's libhadoop has no zstd: the job says so instead of failing in a task."""
    if spark.sparkContext._jvm.org.apache.hadoop.util.NativeCodeLoader.isNativeCodeLoaded():
        pytest.skip("this Hadoop has native code; zstd text may be readable here")
    lake = lakes("csv.zst")
    argv = ["--raw", str(lake), "--silver", str(tmp_path / "s"), "--quarantine", str(tmp_path / "q"), "--tables", "sales"]
    assert b2s.main(argv, spark=spark) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "zstd-compressed text needs Hadoop's native zstd codec" in err[0], err


def test_schemas_load_from_the_zipped_wheel(tmp_path):
    """EMR and Glue put the wheel on the path as a zip: the schemas and the
    lake contract inside it load."""
    import os
    import subprocess
    import sys

    wheels = sorted((REPO / "jobs" / "dist").glob("marketpulse_jobs-*.whl"))
    if not wheels:
        pytest.fail("no wheel in jobs/dist: build it with make wheel")
    code = (
        "import sys; from marketpulse_jobs.utils import load_schemas, job_schema;"
        "from marketpulse_jobs.contracts import layout, table;"
        "import marketpulse_jobs; assert marketpulse_jobs.__file__.startswith(sys.argv[1]);"
        "print(sorted(load_schemas()), job_schema('quarantine').names[0], table('sales').id, layout().dataset_claim)"
    )
    # -S: no site-packages, so the package can only come from the zip on PYTHONPATH.
    cmd = [sys.executable, "-S", "-c", code, str(wheels[-1])]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(wheels[-1])}
    run = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['clicks', 'sales', 'stores', 'users'] run_id transaction_id _manifests/_dataset.json"


def test_a_local_listing_names_what_hadoop_lists(spark, tmp_path):
    """list_files reads a local folder itself (Hadoop's local listing runs a
    process per file): the same `file:` names as Hadoop's listing, without
    hidden, `_` and in-flight entries, from a path or a file:// URI."""
    root = tmp_path / "sales"
    for rel in [
        "ingest_date=2024-01-01/hour=00/part-0.parquet",
        "ingest_date=2024-01-01/hour=00/.part-0.parquet.crc",
        "ingest_date=2024-01-01/hour=01/a b.csv",
        "ingest_date=2024-01-01/_temporary/0/part-9.parquet",
        "ingest_date=2024-01-02/.hidden/part-1.parquet",
        "ingest_date=2024-01-02/part-2.jsonl.gz",
        "_SUCCESS",
    ]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    fs, path, _ = utils.hadoop_fs(str(root))
    hadoop = utils._list_hadoop(fs, fs.makeQualified(path))
    assert len(hadoop) == 3 and all(p.startswith("file:/") for p in hadoop), hadoop
    assert utils.list_files(str(root)) == hadoop
    assert utils.list_files(f"file://{root}/") == hadoop
    assert utils.list_files(str(tmp_path / "absent")) == []
