"""One local SparkSession for a test run: Spark 3.5 on Java 17, small and
quiet, the jobs' own session settings, and s3a:// through the jars the
Makefile installs into .venv/jars."""

from __future__ import annotations

import os
from pathlib import Path

from .aws import AWS_ENV
from .paths import REPO

JAVA17 = Path("/usr/lib/jvm/java-17-openjdk-amd64")


def s3a_jars() -> list[Path]:
    """hadoop-aws and its AWS SDK bundle (`make test` installs them)."""
    return sorted((REPO / ".venv" / "jars").glob("*.jar"))


def session(app: str = "marketpulse-tests"):
    """`local[2,2]`: two cores, and a failed task tried twice, as a cluster retries a lost executor's."""
    from marketpulse_jobs.utils import SESSION_CONF
    from pyspark.sql import SparkSession

    if JAVA17.is_dir():  # Spark 3.5 does not run on newer Java
        os.environ["JAVA_HOME"] = str(JAVA17)
    builder = (
        SparkSession.builder.master("local[2,2]")
        .appName(app)
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
    jars = s3a_jars()
    if jars:
        builder = builder.config("spark.jars", ",".join(str(j) for j in jars))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def s3a_settings(endpoint: str) -> dict[str, str]:
    """Hadoop settings that point s3a:// at a moto server, with the test credentials."""
    return {
        "fs.s3a.endpoint": endpoint,
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "false",
        "fs.s3a.access.key": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "fs.s3a.secret.key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "fs.s3a.change.detection.mode": "none",
    }
