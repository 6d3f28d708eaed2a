"""One SparkSession and a few small producer lakes, shared by every jobs test."""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
JAVA17 = "/usr/lib/jvm/java-17-openjdk-amd64"
if Path(JAVA17).is_dir():  # Spark 3.5 does not run on newer Java
    os.environ["JAVA_HOME"] = JAVA17
for _name in [k for k in os.environ if k.startswith("MARKETPULSE_") and k != "MARKETPULSE_BIN"]:
    del os.environ[_name]

START = "2024-01-01"
DAYS = ["2024-01-01", "2024-01-02"]
# Every [dirty] knob on; clicks switch to v2 on the second day.
DIRTY = """
[dirty]
late = 0.02
duplicates = 0.02
near_duplicates = 0.02
malformed = 0.05
"""
# hadoop-aws and its SDK bundle, installed by the Makefile (s3a:// tests).
S3A_JARS = sorted((REPO / ".venv" / "jars").glob("*.jar"))
LAKE_FLAGS = ["--scale", "0.001", "--days", "2", "--start", START, "--clicks-v2-from", DAYS[1], "--threads", "1"]


@pytest.fixture(scope="session")
def binary() -> Path:
    path = Path(os.environ.get("MARKETPULSE_BIN", REPO / "target" / "debug" / "marketpulse"))
    if not path.exists():
        pytest.fail(f"{path} is missing: build it first (cargo build)")
    return path


@pytest.fixture(scope="session")
def spark():
    from marketpulse_jobs.utils import SESSION_CONF
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[2,2]")
        .appName("marketpulse-jobs-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.extraJavaOptions", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1")
    )
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    if S3A_JARS:
        builder = builder.config("spark.jars", ",".join(str(j) for j in S3A_JARS))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def generate(binary: Path, out: Path, *args: str, config: str | None = None) -> Path:
    cmd = [binary, "generate", "--out", out, "--quiet", *LAKE_FLAGS, *args]
    if config is not None:
        path = out.parent / f"{out.name}.toml"
        path.write_text(config)
        cmd += ["--config", path]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def lakes(binary, tmp_path_factory):
    """Dirty lakes by format (made on first use) and the clean Parquet lake."""
    root = tmp_path_factory.mktemp("lakes")
    made: dict[str, Path] = {}

    def lake(name: str) -> Path:
        if name not in made:
            if name == "clean":
                made[name] = generate(binary, root / name)
            else:
                fmt, _, compression = name.partition(".")
                codec = {"gz": "gzip", "zst": "zstd"}.get(compression)
                extra = ["--format", fmt] + (["--compression", codec] if codec else [])
                made[name] = generate(binary, root / name, *extra, config=DIRTY)
        return made[name]

    return lake


@pytest.fixture(scope="session")
def moto_s3():
    """moto's S3 on 127.0.0.1, in this process, for the JVM's s3a client; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def run_job(spark, lake: Path, out: Path, *extra: str) -> dict:
    """bronze_to_silver from `lake` into `out`/{silver,quarantine}; its metrics."""
    from marketpulse_jobs import bronze_to_silver as b2s

    argv = ["--raw", str(lake), "--silver", str(out / "silver"), "--quarantine", str(out / "quarantine")]
    argv += ["--metrics", str(out / "metrics.json"), "--run-id", "test-run", *extra]
    assert b2s.main(argv, spark=spark) == 0
    return json.loads((out / "metrics.json").read_text())
