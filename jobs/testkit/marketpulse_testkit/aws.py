"""Fake AWS: the one set of test credentials, and moto servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Self

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
# The only credentials any test or benchmark hands to a client: moto takes
# any, and a client that finds no real ones never reaches AWS.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aws_environ(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default os.environ) without any AWS_ setting of the caller, plus the test credentials."""
    base = os.environ if env is None else env
    return {**{k: v for k, v in base.items() if not k.startswith("AWS_")}, **AWS_ENV}


@contextlib.contextmanager
def fake_credentials() -> Iterator[None]:
    """The test credentials in os.environ (for in-process boto3 clients) until the block ends."""
    saved = {k: os.environ.get(k) for k in AWS_ENV}
    os.environ.update(AWS_ENV)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class MotoServer:
    """A moto server in its own process, on 127.0.0.1.

    `script` is any server taking moto_server's command line (`-H HOST -p
    PORT [--ssl]`), for example a patched moto; by default moto itself.
    `env` is the server's whole environment (default: os.environ with the
    test credentials)."""

    def __init__(
        self,
        script: Path | str | None = None,
        env: dict[str, str] | None = None,
        ssl: bool = False,
        start_seconds: float = 20,
    ):
        self.port = free_port()
        self.url = f"{'https' if ssl else 'http'}://127.0.0.1:{self.port}"
        target = ["-m", "moto.server"] if script is None else [str(script)]
        cmd = [sys.executable, *target, "-H", "127.0.0.1", "-p", str(self.port), *(["--ssl"] if ssl else [])]
        self.process = subprocess.Popen(
            cmd, env=aws_environ(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not ssl:  # an HTTPS server with a self-signed certificate: the caller waits its own way
            self._wait(start_seconds)

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1)
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{' '.join(self.process.args[1:])} did not answer on {self.url}")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def moto_in_process() -> Iterator[str]:
    """moto in this process, for tests that change its backends' state
    directly (e.g. end an EMR step); yields its URL, with the test
    credentials in os.environ meanwhile."""
    from moto.server import ThreadedMotoServer

    with fake_credentials():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def client(service: str, endpoint: str):
    """A boto3 client of `service` at `endpoint`, with the test credentials."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def s3_objects(s3, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under `prefix`, by key relative to it."""
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"][len(prefix) :].lstrip("/")] = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
    return out
