"""A small fault-injecting HTTP proxy for sink tests.

It forwards requests to an upstream server (moto) on 127.0.0.1 and, for a
seeded share of them, answers 500, answers 503 SlowDown, or drops the
connection without answering. It can also lose a response: forward a write
(PUT, POST, DELETE), let the server store it, then drop the connection, as
when a network path fails on the way back. For Kinesis PutRecords it can
also fail part of a batch: those records are not forwarded and come back
with ProvisionedThroughputExceededException, as Kinesis reports them.
"""

import json
import random
import socket
import threading
from http.server import ThreadingHTTPServer

from .relay import RelayHandler, forward

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
INTERNAL = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
)


class FaultProxy:
    def __init__(self, upstream_port, error_share=0.0, drop_share=0.0, record_failure_share=0.0, lost_share=0.0, seed=1):
        self.upstream_port = upstream_port
        self.error_share = error_share
        self.drop_share = drop_share
        self.lost_share = lost_share
        self.record_failure_share = record_failure_share
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        # lost: writes stored upstream whose response was dropped;
        # lost_records: the records those carried (PutRecords, PutRecordBatch).
        self.counts = {"requests": 0, "errors": 0, "drops": 0, "failed_records": 0, "lost": 0, "lost_records": 0}
        proxy = self

        class Handler(RelayHandler):
            def _reply(self, status, body, content_type="application/xml"):
                self.reply(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))], body)

            def _handle(self):
                body = self.read_body()
                with proxy.lock:
                    proxy.counts["requests"] += 1
                    roll = proxy.rng.random()
                    fail_records = proxy.rng.random()
                if roll < proxy.drop_share:
                    with proxy.lock:
                        proxy.counts["drops"] += 1
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if roll < proxy.drop_share + proxy.error_share:
                    with proxy.lock:
                        proxy.counts["errors"] += 1
                    if roll < proxy.drop_share + proxy.error_share / 2:
                        self._reply(500, INTERNAL)
                    else:
                        self._reply(503, SLOW_DOWN)
                    return
                target = self.headers.get("X-Amz-Target", "")
                lost_at = proxy.drop_share + proxy.error_share + proxy.lost_share
                if roll < lost_at and self.command in ("PUT", "POST", "DELETE"):
                    status, _, data = proxy.forward(self.command, self.path, self.headers, body)
                    with proxy.lock:
                        proxy.counts["lost"] += 1
                        if status == 200 and target.endswith((".PutRecords", ".PutRecordBatch")):
                            reply = json.loads(data)
                            results = reply.get("Records", reply.get("RequestResponses", []))
                            proxy.counts["lost_records"] += sum(1 for r in results if "ErrorCode" not in r)
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if target.endswith(".PutRecords") and proxy.record_failure_share > 0 and fail_records < 0.5:
                    return self._partial_put_records(body)
                self.reply(*proxy.forward(self.command, self.path, self.headers, body))

            def _partial_put_records(self, body):
                request = json.loads(body)
                records = request["Records"]
                with proxy.lock:
                    failing = {i for i in range(len(records)) if proxy.rng.random() < proxy.record_failure_share}
                    proxy.counts["failed_records"] += len(failing)
                keep = [r for i, r in enumerate(records) if i not in failing]
                results = iter([])
                if keep:
                    forwarded = json.dumps(dict(request, Records=keep)).encode()
                    status, _, data = proxy.forward(self.command, self.path, self.headers, forwarded)
                    if status != 200:
                        return self._reply(status, data, "application/x-amz-json-1.1")
                    results = iter(json.loads(data)["Records"])
                merged = [
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard"}
                    if i in failing
                    else next(results)
                    for i in range(len(records))
                ]
                out = json.dumps({"FailedRecordCount": len(failing), "Records": merged}).encode()
                self._reply(200, out, "application/x-amz-json-1.1")

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def forward(self, method, path, headers, body):
        return forward(self.upstream_port, method, path, headers, body)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
