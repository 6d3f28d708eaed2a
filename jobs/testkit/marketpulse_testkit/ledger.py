"""The access ledger: every AWS call a component makes, as IAM sees it.

A `RecordingProxy` listens on 127.0.0.1 in front of moto. It forwards each
request unchanged and records who called (the role whose temporary key
signed the request, read from the SigV4 credential scope), the IAM action
and resource the call is authorised as, and the request's context keys.
Recording at the HTTP level serves the Rust SDK, boto3, the AWS CLI and the
JVM's s3a client alike. Calls that AWS makes on the caller's behalf and that
never reach moto (KMS for SSE-KMS objects) are added by rule from the
recorded call, marked `implied`. infra/README.md documents the format.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

from .aws import ACCOUNT, REGION
from .relay import RelayHandler, forward

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
# AWS's SDKs reach AWS over TLS; the proxy and moto speak plain HTTP.
ALWAYS = {"aws:SecureTransport": "true", "aws:RequestedRegion": REGION}
SSE_HEADERS = {
    "x-amz-server-side-encryption": "s3:x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id": "s3:x-amz-server-side-encryption-aws-kms-key-id",
}
# JSON-protocol services: the X-Amz-Target prefix's IAM service name.
TARGET_SERVICE = {"Kinesis_20131202": "kinesis", "Firehose_20150804": "firehose", "AWSGlue": "glue",
                  "AmazonEC2ContainerServiceV20141113": "ecs"}  # fmt: skip


class RecordingProxy:
    """Forwards to `upstream` (a moto URL) and keeps `entries`, the ledger.

    `component` labels what runs now (`with proxy.running("producer")`);
    `learn(access_key, role_arn)` names the role behind a temporary key."""

    def __init__(self, upstream: str):
        self.upstream_port = urllib.parse.urlsplit(upstream).port
        self.entries: list[dict] = []
        self.principals: dict[str, str] = {}
        self.component = "unnamed"
        # stream ARN -> its KMS key: a put to an encrypted stream implies kms:GenerateDataKey.
        self.stream_keys: dict[str, str] = {}
        self.lock = threading.Lock()
        proxy = self

        class Handler(RelayHandler):
            def _handle(self):
                body = self.read_body()
                status, headers, data = forward(proxy.upstream_port, self.command, self.path, self.headers, body)
                # AWS authorises a call before it looks at what exists: a
                # 404 or an AlreadyExists needed the permission all the same.
                if status < 500:
                    proxy.record(self.command, self.path, self.headers, body, {k.lower(): v for k, v in headers}, data)
                # AWS's SDK for Java v1 (s3a) copies a source's SSE-KMS header
                # into a rename's CopyObject and refuses to send it over plain
                # HTTP, which the proxy speaks (AWS: HTTPS). Clients do not see
                # the encryption of what they read; the ledger has it, and the
                # bucket default encrypts the copy alike.
                self.reply(status, [(k, v) for k, v in headers if not k.lower().startswith("x-amz-server-side-encryption")], data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client killed mid-request (the tests kill producers) is no proxy error

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def learn(self, access_key: str, role_arn: str) -> None:
        self.principals[access_key] = role_arn

    @contextmanager
    def running(self, component: str) -> Iterator[None]:
        self.component = component
        try:
            yield
        finally:
            self.component = "unnamed"

    def calls(self) -> list[tuple[str, str | None, str | None]]:
        """(component, action, resource) of every call so far."""
        with self.lock:
            return [(e["component"], e["action"], e["resource"]) for e in self.entries]

    def record(self, method: str, path: str, headers, body: bytes, response: dict[str, str], answer: bytes = b"") -> None:
        found = CREDENTIAL.search(headers.get("Authorization", ""))
        key, service = (found.group(1), found.group(3)) if found else (None, None)
        principal = self.principals.get(key)
        calls = authorised_as(service, method, path, headers, body, response, answer)
        for action, resource, _, _ in list(calls):
            if action in ("kinesis:PutRecord", "kinesis:PutRecords") and resource in self.stream_keys:
                via = {"kms:ViaService": f"kinesis.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT}
                calls.append(("kms:GenerateDataKey", self.stream_keys[resource], via, "a put to a KMS-encrypted stream"))
        self.add(principal, calls)

    def add(self, principal: str | None, calls: list[Call]) -> None:
        """Entries of the running component: recorded calls, or calls an AWS
        service makes under `principal`'s role, each with the rule that implies it."""
        with self.lock:
            for action, resource, context, implied in calls:
                self.entries.append({
                    "component": self.component,
                    "principal": principal,
                    "action": action,
                    "resource": resource,
                    "context": {**ALWAYS, **context},
                    **({"implied": implied} if implied else {}),
                })  # fmt: skip

    def write(self, path: Path) -> None:
        """The ledger as JSON lines, one distinct entry each, in a stable order."""
        seen = {json.dumps(e, sort_keys=True) for e in self.entries}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in sorted(seen)))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# (action, resource ARN or None when the action has no resource, context, implied-by rule or None)
Call = tuple[str | None, str | None, dict, str | None]


def authorised_as(service, method, path, headers, body, response, answer: bytes = b"") -> list[Call]:
    """The IAM (action, resource, context) a request is authorised as; an
    action None for a request this table does not know yet."""
    if service == "s3":
        return s3_calls(method, path, headers, body, response)
    if service == "batch":
        return batch_calls(path, json.loads(body or b"{}"), json.loads(answer or b"{}"))
    target = headers.get("X-Amz-Target", "")
    if "." in target:
        prefix, operation = target.split(".", 1)
        iam_service = TARGET_SERVICE.get(prefix)
        request = json.loads(body or b"{}")
        if iam_service == "kinesis":
            name = request.get("StreamARN") or f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{request['StreamName']}"
            return [(f"kinesis:{operation}", name, {}, None)]
        if iam_service == "firehose":
            name = request["DeliveryStreamName"]
            return [(f"firehose:{operation}", f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{name}", {}, None)]
        if iam_service == "glue":
            return [(f"glue:{operation}", arn, {}, None) for arn in glue_resources(request)]
        if iam_service == "ecs":
            return ecs_calls(operation, request, json.loads(answer or b"{}"))
        return [(None, f"{target} ({service})", {}, None)]
    form = urllib.parse.parse_qs(body.decode(errors="replace")) if body else {}
    action = form.get("Action", [None])[0]
    return [(None, f"{service}:{action}", {}, None)]


def ecs_calls(operation: str, request: dict, answer: dict) -> list[Call]:
    """RunTask acts on the task definition (the revision it ran), DescribeTasks
    on each task; both on a cluster (`ecs:cluster`)."""
    base = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
    cluster = request.get("cluster", "default")
    cluster = cluster if cluster.startswith("arn:") else f"{base}:cluster/{cluster}"
    context = {"ecs:cluster": cluster}
    if operation == "RunTask":
        ran = [t["taskDefinitionArn"] for t in answer.get("tasks", [])]
        named = request["taskDefinition"]
        return [("ecs:RunTask", ran[0] if ran else named if named.startswith("arn:") else f"{base}:task-definition/{named}", context, None)]
    if operation == "DescribeTasks":
        return [("ecs:DescribeTasks", t, context, None) for t in request.get("tasks", [])]
    return [(None, f"ecs:{operation}", {}, None)]


# AWS Batch's REST paths: the IAM action of each.
BATCH_ACTIONS = {"/v1/submitjob": "SubmitJob", "/v1/describejobs": "DescribeJobs"}


def batch_calls(path: str, request: dict, answer: dict) -> list[Call]:
    """SubmitJob acts on the job it makes, the job queue and the job
    definition (by name, or name:revision); DescribeJobs on no resource."""
    action = BATCH_ACTIONS.get(urllib.parse.urlsplit(path).path.lower())
    base = f"arn:aws:batch:{REGION}:{ACCOUNT}"
    if action == "SubmitJob":
        queue, definition = request["jobQueue"], request["jobDefinition"]
        return [
            ("batch:SubmitJob", answer.get("jobArn") or f"{base}:job/*", {}, None),
            ("batch:SubmitJob", queue if queue.startswith("arn:") else f"{base}:job-queue/{queue}", {}, None),
            ("batch:SubmitJob", definition if definition.startswith("arn:") else f"{base}:job-definition/{definition}", {}, None),
        ]
    if action == "DescribeJobs":
        return [("batch:DescribeJobs", None, {}, None)]
    return [(None, f"batch {path}", {}, None)]


def passed_roles(task_definition: dict) -> list[Call]:
    """A RunTask hands ECS the task definition's roles: iam:PassRole on each
    (its applied `aws_ecs_task_definition` values)."""
    roles = [task_definition.get(k) for k in ("task_role_arn", "execution_role_arn")]
    return [("iam:PassRole", r, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}, "RunTask passes the task definition's roles")
            for r in roles if r]  # fmt: skip


def glue_resources(request: dict) -> list[str]:
    """The catalog, database and table ARNs a Glue Data Catalog call acts on."""
    base = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    database = request.get("DatabaseName") or request.get("Name") or request.get("DatabaseInput", {}).get("Name")
    out = [f"{base}:catalog", f"{base}:database/{database}"]
    table = request.get("TableName") or request.get("TableInput", {}).get("Name")
    if "DatabaseName" in request and "Name" in request:
        table = request["Name"]
    if table:
        out.append(f"{base}:table/{database}/{table}")
    elif "DatabaseName" in request:  # GetTables: every table of the database
        out.append(f"{base}:table/{database}/*")
    return out


def s3_calls(method, path, headers, body, response) -> list[Call]:
    split = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
    bucket, _, key = urllib.parse.unquote(split.path).lstrip("/").partition("/")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if not key:
        return s3_bucket_calls(method, query, bucket_arn, body)
    obj = f"{bucket_arn}/{key}"
    # A version, tags, an ACL or another subresource is its own IAM action
    # (GetObjectVersion, PutObjectTagging, ...): named only where mapped, so
    # an unmapped one fails the ledger's test instead of passing as GetObject.
    if set(query) == {"versionId"} and method in ("GET", "HEAD", "DELETE"):
        return [("s3:DeleteObjectVersion" if method == "DELETE" else "s3:GetObjectVersion", obj, {}, None)]
    if set(query) - {"uploadId", "uploads", "partNumber", "x-id"} or "x-amz-tagging" in headers:
        return [(None, f"s3 {method} {obj}?{'&'.join(query)}", {}, None)]
    sse = {ctx: headers[h] for h, ctx in SSE_HEADERS.items() if h in headers}
    kms_key = response.get("x-amz-server-side-encryption-aws-kms-key-id")
    kms = kms_context(bucket_arn)
    if method in ("GET", "HEAD"):
        if "uploadId" in query:
            return [("s3:ListMultipartUploadParts", obj, {}, None)]
        calls: list[Call] = [("s3:GetObject", obj, {}, None)]
        if method == "GET" and kms_key:
            calls.append(("kms:Decrypt", kms_key, kms, "s3:GetObject of an SSE-KMS object"))
        return calls
    if method == "DELETE":
        return [("s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject", obj, {}, None)]
    calls = [("s3:PutObject", obj, sse, None)]
    source = headers.get("x-amz-copy-source")
    if source:
        calls.append(("s3:GetObject", "arn:aws:s3:::" + urllib.parse.unquote(source).lstrip("/").split("?")[0], {}, None))
    if kms_key:
        calls.append(("kms:GenerateDataKey", kms_key, kms, "an SSE-KMS write"))
        if "uploadId" in query or "uploads" in query or source:
            calls.append(("kms:Decrypt", kms_key, kms, "a multipart upload or copy under SSE-KMS"))
    return calls


def s3_bucket_calls(method, query, bucket_arn, body) -> list[Call]:
    if method == "POST" and "delete" in query:
        tree = ET.fromstring(body)
        if any(e.tag.endswith("VersionId") for e in tree.iter()):
            return [(None, f"s3 DeleteObjects of versions in {bucket_arn}", {}, None)]
        keys = [e.text for e in tree.iter() if e.tag.endswith("Key")]
        return [("s3:DeleteObject", f"{bucket_arn}/{k}", {}, None) for k in keys]
    if method == "GET" and "uploads" in query:
        return [("s3:ListBucketMultipartUploads", bucket_arn, {}, None)]
    if method == "GET" and "location" in query:
        return [("s3:GetBucketLocation", bucket_arn, {}, None)]
    if method == "HEAD" or (method == "GET" and set(query) <= {"list-type", "prefix", "delimiter", "max-keys",
                                                              "continuation-token", "start-after", "encoding-type",
                                                              "fetch-owner"}):  # fmt: skip
        context = {f"s3:{k}": query[k][0] for k in ("prefix", "delimiter", "max-keys") if k in query}
        return [("s3:ListBucket", bucket_arn, context, None)]
    return [(None, f"s3 {method} {bucket_arn}?{'&'.join(query)}", {}, None)]


def kms_context(bucket_arn: str) -> dict:
    # With S3 Bucket Keys the encryption context is the bucket's ARN.
    return {"kms:ViaService": f"s3.{REGION}.amazonaws.com", "kms:CallerAccount": ACCOUNT,
            "kms:EncryptionContext:aws:s3:arn": bucket_arn}  # fmt: skip


# Redshift's S3 and catalog calls under the role a statement names. Its engine
# cannot run here (docs/decisions/ADR-008-redshift-stand-in.md), so they come
# by rule from the SQL production runs, with the stack's own values.
COPY_FROM = re.compile(r"\bCOPY\s+\S+\s+FROM\s+'s3://([^/']+)/([^']*)'", re.IGNORECASE)
UNLOAD_TO = re.compile(r"\bUNLOAD\s*\(.*?\)\s*TO\s+'s3://([^/']+)/([^']*)'(.*)", re.IGNORECASE | re.DOTALL)
EXTERNAL_DB = re.compile(r"\bCREATE\s+EXTERNAL\s+SCHEMA\b.*?\bDATABASE\s+'([^']+)'", re.IGNORECASE | re.DOTALL)


def redshift_calls(statement: str, objects, partition_value: str) -> list[Call]:
    """What one rendered statement makes Redshift call, under its IAM_ROLE:
    - COPY lists its prefix and reads every object there (`objects(bucket,
      prefix)` yields each key with its KMS key or None), decrypting SSE-KMS;
    - UNLOAD lists its prefix (ALLOWOVERWRITE replaces what it finds) and
      writes one file per partition, asking for SSE-KMS with KMS_KEY_ID and
      for SSE-S3 (AES256) without it;
    - CREATE EXTERNAL SCHEMA … FROM DATA CATALOG reads the catalog database."""
    calls: list[Call] = []
    found = COPY_FROM.search(statement)
    if found:
        bucket, prefix = found.groups()
        return prefix_reads("COPY", bucket, prefix, objects)
    found = UNLOAD_TO.search(statement)
    if found:
        bucket, prefix, options = found.groups()
        partition = re.search(r"PARTITION\s+BY\s*\(\s*(\w+)", options, re.IGNORECASE)
        key = f"{prefix}{partition.group(1)}={partition_value}/" if partition else prefix
        kms_key = re.search(r"KMS_KEY_ID\s+'([^']+)'", options, re.IGNORECASE)
        sse = (
            {"s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": kms_key.group(1)}
            if kms_key
            else {"s3:x-amz-server-side-encryption": "AES256"}
        )
        calls.append(("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix}, "UNLOAD lists what it replaces"))
        calls.append(("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}0000_part_00.parquet", sse, "UNLOAD writes a file"))
        if kms_key:
            calls.append(("kms:GenerateDataKey", kms_key.group(1), kms_context(f"arn:aws:s3:::{bucket}"), "UNLOAD writes under SSE-KMS"))
        return calls
    found = EXTERNAL_DB.search(statement)
    if found:
        base = f"arn:aws:glue:{REGION}:{ACCOUNT}"
        return [("glue:GetDatabase", arn, {}, "CREATE EXTERNAL SCHEMA reads the catalog database")
                for arn in (f"{base}:catalog", f"{base}:database/{found.group(1)}")]  # fmt: skip
    return calls


def glue_job_calls(job: dict, security: dict, role_name: str, run_id: str) -> list[Call]:
    """What Glue itself calls under a job's role when it runs the job, from
    the applied `aws_glue_job` and its `aws_glue_security_configuration`
    (their `terraform show -json` values): it fetches the script and
    `--extra-py-files`, keeps temporary files under `--TempDir`, encrypts the
    job's bookmark with the bookmark key (CSE-KMS), writes the run's logs to
    log groups it associates with the CloudWatch key, and publishes the
    job's metrics."""
    args = job["default_arguments"]

    def obj(uri: str) -> str:
        return "arn:aws:s3:::" + uri.removeprefix("s3://")

    calls: list[Call] = [("s3:GetObject", obj(job["command"][0]["script_location"]), {}, "Glue fetches the job's script")]
    calls += [("s3:GetObject", obj(u), {}, "Glue fetches --extra-py-files") for u in args.get("--extra-py-files", "").split(",") if u]
    if "--TempDir" in args:
        bucket, _, prefix = args["--TempDir"].removeprefix("s3://").partition("/")
        calls.append(("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix}, "Glue lists --TempDir"))
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            calls.append((action, f"arn:aws:s3:::{bucket}/{prefix}{run_id}/part-0", {}, "Glue keeps temporary files under --TempDir"))
    encryption = security["encryption_configuration"][0]
    bookmarks = encryption["job_bookmarks_encryption"][0]
    if bookmarks["job_bookmarks_encryption_mode"] == "CSE-KMS":
        for action in ("kms:Encrypt", "kms:Decrypt"):
            calls.append((action, bookmarks["kms_key_arn"], {}, "Glue encrypts the job bookmark client-side"))
    logs = encryption["cloudwatch_encryption"][0]
    if logs["cloudwatch_encryption_mode"] == "SSE-KMS":
        for kind in ("output", "error"):
            group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws-glue/jobs/{job['security_configuration']}-role/{role_name}/{kind}"
            calls += [(a, group, {}, "Glue creates the run's encrypted log groups") for a in ("logs:CreateLogGroup", "logs:AssociateKmsKey")]
            calls += [(a, f"{group}:log-stream:{run_id}", {}, "Glue writes the run's logs") for a in ("logs:CreateLogStream", "logs:PutLogEvents")]
    if args.get("--enable-metrics") == "true":
        calls.append(("cloudwatch:PutMetricData", None, {"cloudwatch:namespace": "Glue"}, "--enable-metrics"))
    return calls


def spectrum_calls(database: str, table: str, location: str, objects) -> list[Call]:
    """What a query over an external (Spectrum) table makes Redshift call:
    the table and its partitions from the catalog, then its files."""
    base = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    catalog = [f"{base}:catalog", f"{base}:database/{database}", f"{base}:table/{database}/{table}"]
    calls: list[Call] = [(a, arn, {}, "Spectrum plans the query from the catalog")
                         for a in ("glue:GetTable", "glue:GetPartitions") for arn in catalog]  # fmt: skip
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return calls + prefix_reads("Spectrum", bucket, prefix, objects)


def prefix_reads(reader: str, bucket: str, prefix: str, objects) -> list[Call]:
    """Redshift reading every file under a prefix: it lists the prefix, gets
    each object (`objects(bucket, prefix)` yields key and KMS key or None),
    and decrypts the SSE-KMS ones."""
    calls: list[Call] = [("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix}, f"{reader} lists its prefix")]
    for key, kms_key in objects(bucket, prefix):
        calls.append(("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", {}, f"{reader} reads each file"))
        if kms_key:
            calls.append(("kms:Decrypt", kms_key, kms_context(f"arn:aws:s3:::{bucket}"), f"{reader} reads an SSE-KMS file"))
    return calls


def chain_calls(history: list[dict], topic_key: str, env: str) -> list[Call]:
    """What a Step Functions execution calls under the state machine's role,
    from its history (GetExecutionHistory's events): each TaskScheduled
    event's integration and parameters. moto's interpreter signs with fixed
    keys, so the calls are derived, each with the integration that implies
    it; `topic_key` is the alarm topic's KMS key (SNS encrypts with it),
    `env` the environment tag the EMR cluster carries."""
    def arn(service: str) -> str:
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}"

    calls: list[Call] = []
    for event in history:
        if event["type"] != "TaskScheduled":
            continue
        details = event["taskScheduledEventDetails"]
        kind, resource = details["resourceType"], details["resource"]
        params = json.loads(details["parameters"])
        why = f"the chain's {kind}:{resource} task"
        if kind == "batch":
            queue, definition = params["JobQueue"], params["JobDefinition"]
            calls += [("batch:SubmitJob", a, {}, why) for a in (f"{arn('batch')}:job/*", queue, definition)]
            if resource.endswith(".sync"):
                calls.append(("batch:DescribeJobs", None, {}, why))
                rule = f"{arn('events')}:rule/StepFunctionsGetEventsForBatchJobsRule"
                calls += [(a, rule, {}, why) for a in ("events:PutTargets", "events:PutRule", "events:DescribeRule")]
        elif kind == "aws-sdk:emr":
            action = {"addJobFlowSteps": "AddJobFlowSteps", "describeStep": "DescribeStep"}[resource]
            cluster = params.get("JobFlowId") or params["ClusterId"]
            calls.append((f"elasticmapreduce:{action}", f"{arn('elasticmapreduce')}:cluster/{cluster}",
                          {"aws:ResourceTag/env": env}, why))  # fmt: skip
        elif kind == "glue":
            job = f"{arn('glue')}:job/{params['JobName']}"
            calls += [("glue:StartJobRun", job, {}, why), ("glue:GetJobRun", job, {}, why)]
        elif kind == "aws-sdk:glue":
            calls.append(("glue:StartCrawler", f"{arn('glue')}:crawler/{params['Name']}", {}, why))
        elif kind == "aws-sdk:redshiftdata" and resource == "batchExecuteStatement":
            cluster = params["ClusterIdentifier"]
            redshift = arn("redshift")
            calls += [
                ("redshift-data:BatchExecuteStatement", f"{redshift}:cluster:{cluster}", {}, why),
                ("redshift:GetClusterCredentials", f"{redshift}:dbuser:{cluster}/{params['DbUser']}", {}, why),
                ("redshift:GetClusterCredentials", f"{redshift}:dbname:{cluster}/{params['Database']}", {}, why),
            ]
        elif kind == "aws-sdk:redshiftdata":
            calls.append((f"redshift-data:{resource[0].upper()}{resource[1:]}", None, {}, why))
        elif kind == "sns":
            calls += [("sns:Publish", params["TopicArn"], {}, why),
                      ("kms:GenerateDataKey", topic_key, {}, why), ("kms:Decrypt", topic_key, {}, why)]  # fmt: skip
        elif kind == "aws-sdk:cloudwatch":
            calls.append(("cloudwatch:PutMetricData", None, {"cloudwatch:namespace": params["Namespace"]}, why))
        else:
            calls.append((None, f"{kind}:{resource}", {}, why))
    return calls


def schedule_calls(schedule: dict, key: str) -> list[Call]:
    """What EventBridge Scheduler calls under a schedule's role when it fires:
    its target (a state machine, or a universal target's API), after
    decrypting the schedule with its customer managed key."""
    target = schedule["target"][0]
    why = f"the schedule {schedule['name']} fires"
    calls: list[Call] = [("kms:Decrypt", key, {}, why)] if schedule.get("kms_key_arn") else []
    arn = target["arn"]
    if ":states:" in arn:
        return [*calls, ("states:StartExecution", arn, {}, why)]
    if arn.startswith("arn:aws:scheduler:::aws-sdk:redshift:"):
        action = arn.rsplit(":", 1)[1]
        cluster = json.loads(target["input"])["ClusterIdentifier"]
        return [*calls, (f"redshift:{action[0].upper()}{action[1:]}", f"arn:aws:redshift:{REGION}:{ACCOUNT}:cluster:{cluster}", {}, why)]
    return [*calls, (None, arn, {}, why)]
