"""s3a:// through hadoop-aws 3.3.1 and its AWS SDK bundle 1.11.901 beside
PySpark's Hadoop 3.3.4 (ADR-013), against S3 (moto): multipart uploads,
the rename commit's copies, listings over many pages and nested partitions,
overwrites and deletes, and bytes read back as written. Each bucket has its
own S3A settings, so the rest of the session's s3a:// use is untouched."""

from __future__ import annotations

import hashlib
import random

import pytest
from marketpulse_testkit.aws import client
from marketpulse_testkit.spark import s3a_jars, s3a_settings
from pyspark.sql import functions as F

MIB = 1024 * 1024
PART = 5 * MIB  # S3's smallest part but the last; moto enforces it
BUCKETS = {
    # Parts of S3's minimum size, so a few MiB make a multipart upload (and copy).
    "s3a-multipart": {"multipart.size": str(PART), "multipart.threshold": str(PART)},
    # Seven keys a page: a listing of a partitioned table takes many requests.
    "s3a-listing": {"paging.maximum": "7"},
    # Small bulk deletes: removing a table takes several DeleteObjects calls.
    "s3a-overwrite": {"bulk.delete.page.size": "5", "paging.maximum": "7"},
}
LEFTOVERS = ("_temporary", ".spark-staging")


@pytest.fixture(scope="module")
def s3(spark, moto_s3):
    """The buckets on moto, with their S3A settings set before s3a:// first opens them; a boto3 client."""
    assert s3a_jars(), "the s3a jars are missing from .venv/jars: make test installs them"
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in s3a_settings(moto_s3).items():
        conf.set(key, value)
    s3 = client("s3", moto_s3)
    for bucket, options in BUCKETS.items():
        s3.create_bucket(Bucket=bucket)
        for option, value in options.items():
            conf.set(f"fs.s3a.bucket.{bucket}.{option}", value)
    return s3


def keys(s3, bucket: str, prefix: str = "") -> dict[str, dict]:
    """Every object under the prefix, as boto3 (not S3A) lists it."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.update({o["Key"]: o for o in page.get("Contents", [])})
    return found


def data_keys(s3, bucket: str, prefix: str) -> set[str]:
    return {k for k in keys(s3, bucket, prefix) if k.endswith(".parquet")}


def hadoop(spark, url: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(url)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path, jvm


def s3a_count(fs, statistic: str) -> int:
    """One of S3A's request counters for this bucket's file system (its own
    IOStatistics: getStorageStatistics() is the first S3A instance's, JVM-wide)."""
    return fs.getIOStatistics().counters().get(statistic)


def table(spark, days: int, hours: int, rows: int, version: int):
    """rows per (day, hour) partition, each row naming its version."""
    return (
        spark.range(days * hours * rows)
        .select(
            F.col("id"),
            F.format_string("2024-01-%02d", (F.col("id") % days + 1).cast("int")).alias("day"),
            ((F.col("id") / days).cast("long") % hours).cast("int").alias("hour"),
            F.lit(version).alias("version"),
        )
    )


def same_rows(a, b) -> bool:
    return a.count() == b.count() and a.exceptAll(b).count() == 0 and b.exceptAll(a).count() == 0


def test_s3a_is_hadoop_aws_3_3_1_beside_hadoop_3_3_4(spark):
    jvm = spark.sparkContext._jvm
    jars = spark.sparkContext.getConf().get("spark.jars").split(",")
    assert sorted(j.rsplit("/", 1)[-1] for j in jars) == ["aws-java-sdk-bundle-1.11.901.jar", "hadoop-aws-3.3.1.jar"]
    assert jvm.org.apache.hadoop.util.VersionInfo.getVersion() == "3.3.4"
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    s3a = jvm.java.lang.Class.forName("org.apache.hadoop.fs.s3a.S3AFileSystem", True, loader)
    assert s3a.getProtectionDomain().getCodeSource().getLocation().toString().endswith("/hadoop-aws-3.3.1.jar")


def test_multipart_upload_reads_back_byte_exact(spark, s3):
    """12 MiB through S3A's block output stream: three parts, and the same
    bytes whole, across a part boundary and through Spark."""
    blob = random.Random(21).randbytes(12 * MIB + 12345)
    fs, path, jvm = hadoop(spark, "s3a://s3a-multipart/blobs/one.bin")
    out = fs.create(path, True)
    out.write(bytearray(blob))
    out.close()

    head = s3.head_object(Bucket="s3a-multipart", Key="blobs/one.bin")
    assert head["ContentLength"] == len(blob)
    assert head["ETag"].strip('"').endswith("-3"), f"not a 3-part upload: ETag {head['ETag']}"
    assert s3.get_object(Bucket="s3a-multipart", Key="blobs/one.bin")["Body"].read() == blob

    io = jvm.org.apache.commons.io.IOUtils
    stream = fs.open(path)
    try:
        assert bytes(io.toByteArray(stream)) == blob
        stream.seek(PART - 100)
        assert bytes(io.toByteArray(stream, 200)) == blob[PART - 100 : PART + 100]
    finally:
        stream.close()
    (row,) = spark.read.format("binaryFile").load("s3a://s3a-multipart/blobs/one.bin").collect()
    assert row.length == len(blob) and hashlib.sha256(row.content).digest() == hashlib.sha256(blob).digest()


def test_parquet_larger_than_a_part_commits_and_reads_back(spark, s3):
    """An 8 MiB Parquet file: uploaded in parts, then copied by the rename
    commit (task, then job), with nothing left under _temporary."""
    rng = random.Random(4)
    rows = [(i, rng.randbytes(64 * 1024)) for i in range(128)]
    df = spark.createDataFrame(rows, "id long, payload binary").coalesce(1)
    fs, _, _ = hadoop(spark, "s3a://s3a-multipart/table")
    uploads, copies = s3a_count(fs, "multipart_upload_completed"), s3a_count(fs, "object_copy_requests")
    df.write.mode("overwrite").parquet("s3a://s3a-multipart/table")
    assert s3a_count(fs, "multipart_upload_completed") > uploads
    assert s3a_count(fs, "object_copy_requests") - copies >= 2

    written = keys(s3, "s3a-multipart", "table/")
    assert "table/_SUCCESS" in written
    (data,) = [k for k in written if k.endswith(".parquet")]
    assert written[data]["Size"] > 8 * MIB
    assert not [k for k in written if any(x in k for x in LEFTOVERS)]
    back = spark.read.parquet("s3a://s3a-multipart/table").collect()
    assert sorted((r.id, hashlib.sha256(r.payload).hexdigest()) for r in back) == [
        (i, hashlib.sha256(p).hexdigest()) for i, p in rows
    ]


def test_listing_many_files_in_nested_partitions(spark, s3):
    """3 days x 4 hours, 3 files each: 36 data files listed seven keys a page,
    by Spark's partition discovery, a recursive listing and a glob."""
    df = table(spark, days=3, hours=4, rows=15, version=1)
    df.repartition(3).write.partitionBy("day", "hour").parquet("s3a://s3a-listing/events")

    stored = data_keys(s3, "s3a-listing", "events/")
    assert len(stored) == 36
    fs, root, jvm = hadoop(spark, "s3a://s3a-listing/events")
    pages = s3a_count(fs, "object_continue_list_request")
    listed = set()
    files = fs.listFiles(root, True)
    while files.hasNext():
        name = files.next().getPath().toString().removeprefix("s3a://s3a-listing/")
        if name.endswith(".parquet"):
            listed.add(name)
    assert listed == stored
    assert s3a_count(fs, "object_continue_list_request") - pages >= len(stored) // 7
    partitions = fs.globStatus(jvm.org.apache.hadoop.fs.Path("s3a://s3a-listing/events/day=*/hour=*"))
    assert len(partitions) == 12 and all(p.isDirectory() for p in partitions)
    assert len(fs.listStatus(jvm.org.apache.hadoop.fs.Path("s3a://s3a-listing/events/day=2024-01-02"))) == 4
    back = spark.read.parquet("s3a://s3a-listing/events")
    assert same_rows(back.select("id", "day", "hour", "version"), df.select("id", "day", "hour", "version"))


def test_overwrite_and_delete_remove_the_old_files(spark, s3):
    """The jobs' dynamic partition overwrite replaces the partitions it
    writes and keeps the others; a static overwrite replaces the table; a
    recursive delete removes a partition. No old file survives its
    replacement and no staging or _temporary key is left."""
    url = "s3a://s3a-overwrite/silver"
    first = table(spark, days=3, hours=2, rows=10, version=1)
    first.repartition(2).write.partitionBy("day", "hour").parquet(url)
    first_files = data_keys(s3, "s3a-overwrite", "silver/")
    day2 = {k for k in first_files if "/day=2024-01-02/" in k}
    assert len(first_files) == 12 and len(day2) == 4

    second = table(spark, days=3, hours=2, rows=10, version=2).where("day = '2024-01-02'")
    dynamic = second.repartition(1).write.mode("overwrite").option("partitionOverwriteMode", "dynamic")
    dynamic.partitionBy("day", "hour").parquet(url)
    after = data_keys(s3, "s3a-overwrite", "silver/")
    assert not after & day2, "dynamic overwrite kept the day's old files"
    assert after - first_files and first_files - day2 <= after
    expected = first.where("day != '2024-01-02'").unionByName(second)
    assert same_rows(spark.read.parquet(url).select(*first.columns), expected.select(*first.columns))

    third = table(spark, days=2, hours=1, rows=10, version=3)
    static = third.repartition(1).write.mode("overwrite").option("partitionOverwriteMode", "static")
    static.partitionBy("day", "hour").parquet(url)
    final = data_keys(s3, "s3a-overwrite", "silver/")
    assert len(final) == 2 and not final & after, "static overwrite kept old files"
    assert same_rows(spark.read.parquet(url).select(*first.columns), third.select(*first.columns))
    assert not [k for k in keys(s3, "s3a-overwrite") if any(x in k for x in LEFTOVERS)]

    fs, _, jvm = hadoop(spark, url)
    assert fs.delete(jvm.org.apache.hadoop.fs.Path(f"{url}/day=2024-01-01"), True)
    assert not keys(s3, "s3a-overwrite", "silver/day=2024-01-01/")
    left = spark.read.parquet(url).select(*first.columns)
    assert same_rows(left, third.where("day = '2024-01-02'").select(*first.columns))
