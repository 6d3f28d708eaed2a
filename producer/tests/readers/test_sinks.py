"""Sinks against moto on 127.0.0.1: S3 lake, Kinesis, Firehose, stdout; faults
injected by a proxy; bad endpoints, buckets, streams and credentials."""

import http.client
import json
import time
import uuid
from collections import Counter

import pytest
from marketpulse_testkit import (
    MotoServer,
    aws_run,
    files,
    generate,
    load_manifest,
    s3_objects,
)
from marketpulse_testkit.aws import client
from marketpulse_testkit.faultproxy import FaultProxy

SMALL = ["--scale", "0.005", "--days", "1", "--start", "2025-03-08"]
# Streams through moto take about 3,000 records/s: keep their runs smaller.
STREAM = ["--scale", "0.002", "--days", "1", "--start", "2025-03-08"]


def new_bucket(endpoint):
    name = f"lake-{uuid.uuid4().hex[:12]}"
    client("s3", endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def local_lake(binary, tmp_path_factory):
    return generate(binary, tmp_path_factory.mktemp("local"), *SMALL)


def test_s3_lake_equals_the_local_lake(binary, moto, local_lake):
    bucket = new_bucket(moto)
    run = aws_run(binary, "generate", "--out", f"s3://{bucket}/raw/v1", *SMALL, endpoint=moto)
    assert "manifest s3://" in run.stderr
    objects = s3_objects(client("s3", moto), bucket, "raw/v1")
    assert objects == files(local_lake)


@pytest.mark.slow
@pytest.mark.parametrize("lost_share", [0.0, 0.3])
def test_large_files_go_up_in_parts_under_the_bucket_default_key(binary, moto, tmp_path, lost_share):
    # With lost responses too: a retried CompleteMultipartUpload finds its
    # upload gone and the object in place, a retried CreateMultipartUpload
    # leaves an upload behind that must not linger.
    bucket = new_bucket(moto)
    # Under the bucket's default SSE-KMS: without --sse-kms-key no object,
    # single or multipart, may ask for other encryption.
    key_id = client("kms", moto).create_key()["KeyMetadata"]["KeyId"]
    default = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}
    client("s3", moto).put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [default]})
    flags = ["--scale", "0.1", "--domains", "clicks", "--format", "jsonl", "--start", "2025-03-08"]
    local = generate(binary, tmp_path / "local", *flags)
    with FaultProxy(int(moto.rsplit(":", 1)[1]), lost_share=lost_share, seed=5) as proxy:
        aws_run(
            binary,
            "generate",
            "--out",
            f"s3://{bucket}/mp",
            *flags,
            "--multipart-threshold-mib",
            "5",
            "--part-size-mib",
            "5",
            "--no-overwrite",
            endpoint=proxy.url,
        )
    assert (proxy.counts["lost"] > 5) == (lost_share > 0), proxy.counts
    s3 = client("s3", moto)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    objects = s3_objects(s3, bucket, "mp")
    assert objects == files(local)
    big = [k for k, v in objects.items() if len(v) >= 5 << 20]
    assert big, "no file large enough for multipart"
    for key in big:
        etag = s3.head_object(Bucket=bucket, Key=f"mp/{key}")["ETag"]
        assert "-" in etag, (key, etag)  # multipart ETags end in -<parts>
    for key in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId", "").split("/")[-1]) == ("aws:kms", key_id), key


def test_sse_kms_is_reported_on_every_object(binary, moto):
    bucket = new_bucket(moto)
    key_id = client("kms", moto).create_key()["KeyMetadata"]["KeyId"]
    aws_run(binary, "generate", "--out", f"s3://{bucket}/enc", *SMALL, "--domains", "stores,sales", "--sse-kms-key", key_id, endpoint=moto)
    s3 = client("s3", moto)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) > 10
    for k in keys:
        head = s3.head_object(Bucket=bucket, Key=k)
        assert head["ServerSideEncryption"] == "aws:kms", k
        assert key_id in head["SSEKMSKeyId"], k


def test_no_overwrite_refuses_to_replace_objects(binary, moto):
    bucket = new_bucket(moto)
    flags = ["generate", "--out", f"s3://{bucket}/once", *SMALL, "--domains", "stores"]
    aws_run(binary, *flags, "--no-overwrite", endpoint=moto)
    s3 = client("s3", moto)
    before = s3_objects(s3, bucket)
    # Another dataset into the same prefix: refused, unless forced.
    refused = aws_run(binary, *flags, "--seed", "9", endpoint=moto, check=False)
    assert refused.returncode == 2 and "holds dataset" in refused.stderr, refused.stderr
    assert s3_objects(s3, bucket) == before
    # Forced, the conditional writes still refuse to replace its files.
    again = aws_run(binary, *flags, "--seed", "9", "--force", "--no-overwrite", endpoint=moto, check=False)
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1 and "--no-overwrite" in again.stderr, again.stderr
    after = s3_objects(s3, bucket)
    data = lambda objects: {k: v for k, v in objects.items() if not k.startswith("once/_manifests/")}
    # The data objects are untouched; only bookkeeping under _manifests/ is new.
    assert data(after) == data(before)
    new = {k for k in set(after) - set(before) if "-shard-" in k}
    assert new and all(k.startswith("once/_manifests/") for k in new)
    assert all(json.loads(after[k])["complete"] is False for k in new if k.endswith(".json") and "_journal" not in k)
    # Without the flag, re-running the first spec replaces objects with identical bytes.
    aws_run(binary, *flags, "--force", endpoint=moto)


@pytest.mark.parametrize("layer", ["file", "env"])
def test_sink_settings_from_a_file_or_the_environment(binary, moto, tmp_path, layer):
    """endpoint_url, sse_kms_key, no_overwrite and skip_sink_check take
    effect from a config file and from MARKETPULSE_* variables."""
    bucket = new_bucket(moto)
    key_id = client("kms", moto).create_key()["KeyMetadata"]["KeyId"]

    def run(out, **settings):
        settings = {"out": out, "endpoint_url": moto, **settings}
        if layer == "file":
            cfg = tmp_path / f"{uuid.uuid4().hex}.toml"
            cfg.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
            return aws_run(binary, "generate", *SMALL, "--domains", "stores", "--config", cfg, check=False)
        env = {f"MARKETPULSE_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v) for k, v in settings.items()}
        return aws_run(binary, "generate", *SMALL, "--domains", "stores", env=env, check=False)

    first = run(f"s3://{bucket}/lake", sse_kms_key=key_id, no_overwrite=True)
    assert first.returncode == 0, first.stderr
    s3 = client("s3", moto)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys
    for k in keys:
        head = s3.head_object(Bucket=bucket, Key=k)
        assert head["ServerSideEncryption"] == "aws:kms" and key_id in head["SSEKMSKeyId"], k
    again = run(f"s3://{bucket}/lake", sse_kms_key=key_id, no_overwrite=True)
    assert again.returncode == 1 and "--no-overwrite" in again.stderr, again.stderr
    # An unknown bucket fails the health check; skipped, it fails the first write.
    checked = run("s3://no-such-bucket-here/x")
    assert checked.returncode == 1 and "cannot use s3://no-such-bucket-here: no such bucket" in checked.stderr, checked.stderr
    unchecked = run("s3://no-such-bucket-here/x", skip_sink_check=True)
    assert unchecked.returncode == 1 and "cannot write s3://no-such-bucket-here/x/" in unchecked.stderr, unchecked.stderr
    assert "NoSuchBucket" in unchecked.stderr


def ids_of(lines):
    """(domain, id) of each JSON line: click and sale ids are separate spaces."""
    out = []
    for line in lines:
        if line.strip():
            row = json.loads(line)
            out.append(("click", row["event_id"]) if "event_id" in row else ("sale", row["transaction_id"]))
    return out


def read_stream(kinesis, name):
    lines = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            out = kinesis.get_records(ShardIterator=it, Limit=10_000)
            lines += [r["Data"].decode() for r in out["Records"]]
            if not out["Records"] and out.get("MillisBehindLatest", 0) == 0:
                break
            it = out.get("NextShardIterator")
    return lines


def expected_ids(binary, tmp_path, flags):
    """Event ids of the same run written as a local jsonl lake."""
    lake = generate(binary, tmp_path / "expected", *flags, "--format", "jsonl", "--domains", "sales,clicks")
    ids = []
    for f in load_manifest(lake)["files"]:
        ids += ids_of((lake / f["path"]).read_text().splitlines())
    return Counter(ids)


def new_stream(moto, shards=2):
    name = f"events-{uuid.uuid4().hex[:8]}"
    client("kinesis", moto).create_stream(StreamName=name, ShardCount=shards)
    return name


@pytest.mark.slow
def test_kinesis_receives_exactly_the_run_events(binary, moto, tmp_path):
    name = new_stream(moto)
    metrics = tmp_path / "metrics.json"
    run = aws_run(binary, "generate", "--out", tmp_path / "m", "--sink", f"kinesis://{name}", *STREAM, "--metrics-json", metrics, endpoint=moto)
    got = Counter(ids_of(read_stream(client("kinesis", moto), name)))
    want = expected_ids(binary, tmp_path, STREAM)
    assert got == want and max(got.values()) == 1
    m = json.loads(metrics.read_text())
    assert m["sink"] == f"kinesis://{name}" and m["metrics"]["records"] >= sum(want.values())
    assert m["metrics"]["request_latency"]["count"] == m["metrics"]["requests"] > 0
    assert "p99.9" in run.stderr
    # The manifest went to --out and lists the delivered units, marked as
    # sent to the stream, so verify does not look for them as files.
    manifest = load_manifest(tmp_path / "m")
    assert sum(f["rows"] for f in manifest["files"]) == sum(want.values())
    assert {f["sink"] for f in manifest["files"]} == {f"kinesis://{name}"}
    assert_verifies(binary, tmp_path / "m")


@pytest.mark.slow
def test_partial_kinesis_failures_are_retried_until_every_event_is_in(binary, moto, tmp_path):
    name = new_stream(moto)
    metrics = tmp_path / "metrics.json"
    with FaultProxy(int(moto.rsplit(":", 1)[1]), record_failure_share=0.3, seed=3) as proxy:
        aws_run(binary, "generate", "--out", tmp_path / "m", "--sink", f"kinesis://{name}", *STREAM, "--metrics-json", metrics, endpoint=proxy.url)
    assert proxy.counts["failed_records"] > 100
    got = Counter(ids_of(read_stream(client("kinesis", moto), name)))
    assert got == expected_ids(binary, tmp_path, STREAM)
    m = json.loads(metrics.read_text())["metrics"]
    assert m["retries"] > 0 and m["throttles"] > 0


@pytest.mark.slow
def test_lost_kinesis_responses_duplicate_exactly_the_lost_batches(binary, moto, tmp_path):
    # As the README says: a batch whose response is lost after Kinesis stored
    # it is sent again whole, so its records arrive twice; nothing is lost.
    name = new_stream(moto)
    with FaultProxy(int(moto.rsplit(":", 1)[1]), lost_share=0.3, seed=4) as proxy:
        aws_run(binary, "generate", "--out", tmp_path / "m", "--sink", f"kinesis://{name}", *STREAM, endpoint=proxy.url)
    assert proxy.counts["lost_records"] > 0, proxy.counts
    got = Counter(ids_of(read_stream(client("kinesis", moto), name)))
    want = expected_ids(binary, tmp_path, STREAM)
    assert set(got) == set(want)
    assert sum((got - want).values()) == proxy.counts["lost_records"]
    assert_verifies(binary, tmp_path / "m")


def test_firehose_delivers_to_its_bucket(binary, moto, tmp_path):
    bucket = new_bucket(moto)
    name = f"delivery-{uuid.uuid4().hex[:8]}"
    client("firehose", moto).create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": "events/",
        },
    )
    aws_run(binary, "generate", "--out", tmp_path / "m", "--sink", f"firehose://{name}", *STREAM, endpoint=moto)
    lines = []
    for body in s3_objects(client("s3", moto), bucket, "events/").values():
        lines += body.decode().splitlines()
    assert Counter(ids_of(lines)) == expected_ids(binary, tmp_path, STREAM)
    assert_verifies(binary, tmp_path / "m")


def test_stdout_sink_writes_json_lines(binary, tmp_path):
    run = aws_run(binary, "generate", "--out", tmp_path / "m", "--sink", "stdout", *STREAM, "--emf")
    got = Counter(ids_of(run.stdout.splitlines()))
    assert got == expected_ids(binary, tmp_path, STREAM)
    # --emf: one CloudWatch Embedded Metric Format line on stderr.
    (emf,) = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    metric_names = {m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"Requests", "Retries", "Throttles", "Bytes", "RequestLatencyP99"} <= metric_names
    assert emf["Sink"] == "stdout" and emf["Records"] == sum(got.values())
    assert_verifies(binary, tmp_path / "m")


def assert_verifies(binary, lake):
    run = aws_run(binary, "verify", lake, check=False)
    assert run.returncode == 0, run.stderr


def test_verify_reads_an_s3_lake(binary, moto):
    """verify s3://… finds a flipped byte, a deleted object and an extra one."""
    bucket = new_bucket(moto)
    url = f"s3://{bucket}/v"
    aws_run(binary, "generate", "--out", url, *SMALL, "--domains", "stores,sales", endpoint=moto)
    assert aws_run(binary, "verify", url, endpoint=moto, check=False).returncode == 0
    s3 = client("s3", moto)
    key = next(k for k in s3_objects(s3, bucket, "v") if k.startswith("sales/"))
    original = s3.get_object(Bucket=bucket, Key=f"v/{key}")["Body"].read()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 1
    cases = [
        (lambda: s3.put_object(Bucket=bucket, Key=f"v/{key}", Body=bytes(flipped)), "mismatch", key),
        (lambda: s3.delete_object(Bucket=bucket, Key=f"v/{key}"), "missing", key),
        (lambda: s3.put_object(Bucket=bucket, Key="v/sales/stray.parquet", Body=b"PAR1"), "unexpected", "sales/stray.parquet"),
    ]
    for damage, kind, path in cases:
        damage()
        run = aws_run(binary, "verify", "--json", url, endpoint=moto, check=False)
        assert run.returncode == 1, run.stderr
        problems = json.loads(run.stdout)["problems"]
        assert [(p["kind"], p["path"]) for p in problems] == [(kind, path)], problems
        s3.put_object(Bucket=bucket, Key=f"v/{key}", Body=original)
        s3.delete_object(Bucket=bucket, Key="v/sales/stray.parquet")
    assert aws_run(binary, "verify", url, endpoint=moto, check=False).returncode == 0


def test_the_fault_proxy_answers_a_failed_head_without_a_body(moto):
    """An injected error on HEAD (HeadObject of a guarded write) carries no
    body, so the next response on the same connection still parses."""
    with FaultProxy(int(moto.rsplit(":", 1)[1]), error_share=1.0) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        for method in ("HEAD", "GET"):
            conn.request(method, "/no-such-bucket/key")
            response = conn.getresponse()
            assert response.status in (500, 503) and response.version == 11
            body = response.read()
            assert (body == b"") == (method == "HEAD"), (method, body[:80])
        conn.close()


@pytest.mark.parametrize("guarded", [[], ["--no-overwrite"]])
def test_s3_faults_lose_and_duplicate_nothing(binary, moto, local_lake, tmp_path, guarded):
    # Errors, dropped requests, and responses lost after S3 stored the
    # object: a conditional write retried after a lost response finds its
    # own object, and the run's lock its own lock.
    bucket = new_bucket(moto)
    metrics = tmp_path / "metrics.json"
    with FaultProxy(int(moto.rsplit(":", 1)[1]), error_share=0.15, drop_share=0.05, lost_share=0.15, seed=7) as proxy:
        aws_run(binary, "generate", "--out", f"s3://{bucket}/f", *SMALL, *guarded, "--metrics-json", metrics, endpoint=proxy.url)
    assert proxy.counts["errors"] > 5 and proxy.counts["drops"] > 0 and proxy.counts["lost"] > 2
    objects = s3_objects(client("s3", moto), bucket, "f")
    manifest = json.loads(next(v for k, v in objects.items() if k.startswith("_manifests/") and "-shard-" in k))
    listed = {f["path"] for f in manifest["files"]}
    assert set(objects) - {k for k in objects if k.startswith("_manifests/")} == listed
    assert objects == files(local_lake)
    m = json.loads(metrics.read_text())["metrics"]
    assert m["retries"] >= proxy.counts["errors"] + proxy.counts["drops"] - 2
    assert m["throttles"] > 0


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--out", "s3://no-such-bucket-here/x"], "no such bucket"),
        (["--sink", "kinesis://no-such-stream"], "ResourceNotFoundException"),
        (["--sink", "firehose://no-such-delivery"], "ResourceNotFoundException"),
    ],
)
def test_unknown_buckets_and_streams_fail_fast(binary, moto, tmp_path, args, needle):
    started = time.monotonic()
    run = aws_run(binary, "generate", "--out", tmp_path / "m", *args, *SMALL, endpoint=moto, check=False)
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and needle in run.stderr, run.stderr
    assert time.monotonic() - started < 10
    assert not (tmp_path / "m" / "_manifests").exists()


def test_bad_endpoint_and_missing_credentials_fail_fast(binary, moto, tmp_path):
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    for args, env, needle in [
        (["--out", "s3://b/x"], {}, "Connection refused"),
        (["--sink", "kinesis://s"], {}, "Connection refused"),
        (
            ["--out", "s3://b/x"],
            {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"},
            "no usable AWS credentials",
        ),
    ]:
        started = time.monotonic()
        endpoint = dead if needle == "Connection refused" else moto
        run = aws_run(binary, "generate", "--out", tmp_path / "m", *args, *SMALL, endpoint=endpoint, env=env, check=False)
        assert run.returncode == 1 and run.stderr.count("\n") == 1 and needle in run.stderr, run.stderr
        assert time.monotonic() - started < 15


def test_https_endpoints_verify_the_server_certificate(binary, tmp_path):
    """The SDK's HTTPS client (rustls) reaches a TLS server and refuses its
    self-signed certificate: TLS is on, and so is verification."""
    with MotoServer(ssl=True) as server:
        deadline = time.monotonic() + 20
        while True:
            run = aws_run(binary, "generate", "--out", "s3://b/x", *SMALL, "--domains", "stores", endpoint=server.url, check=False)
            if "Connection refused" not in run.stderr or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert run.returncode == 1 and "invalid peer certificate: UnknownIssuer" in run.stderr, run.stderr
