"""MarketPulse's test toolkit: one copy of what the Python suites and the
benchmarks share. Installed editable into the test venv, it is also a
pytest plugin (marketpulse_testkit.plugin) with the shared fixtures
(binary, moto, moto_s3, fake_aws, spark, podman_image, tf_env) and the
markers spark, infra, container and slow.

Modules: aws (credentials, moto servers, S3 listing), producer (the binary,
lakes, their files), spark, terraform, podman, jobs (small lakes and a
bronze_to_silver run), reference (gold and BI answers in DuckDB),
faultproxy (an HTTP proxy that injects faults)."""

from .aws import AWS_ENV, MotoServer, free_port, moto_in_process, s3_objects
from .paths import REPO
from .producer import DIRTY, aws_run, data_files, files, generate, load_manifest

__all__ = [
    "AWS_ENV",
    "DIRTY",
    "REPO",
    "MotoServer",
    "aws_run",
    "data_files",
    "files",
    "free_port",
    "generate",
    "load_manifest",
    "moto_in_process",
    "s3_objects",
]
