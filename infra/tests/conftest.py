"""One emulator (moto, patched by emulator.py), one copy of infra/ with the
emulator's provider overrides, one plugin cache and one bootstrap apply per
test run. Terraform and the AWS provider mirror come with the machine image;
without them the tests that need them skip and say what is missing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MIRROR = Path(os.environ.get("MARKETPULSE_TF_MIRROR", "/opt/tf-plugins"))
PROVIDER = MIRROR / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0"
AWS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
SERVICES = [
    "s3", "dynamodb", "sts", "iam", "kms", "ec2", "glue", "emr", "redshift", "ecs", "logs", "cloudwatch",
    "sns", "budgets", "kinesis", "firehose", "batch", "events", "ecr", "secretsmanager",
]  # fmt: skip
STATE_KEY = "marketpulse/platform.tfstate"


def missing_terraform() -> str | None:
    if shutil.which("terraform") is None:
        return "the terraform CLI is not on PATH (the machine image ships Terraform 1.11)"
    if not PROVIDER.is_dir():
        return f"the hashicorp/aws 5.100.0 provider mirror is missing at {MIRROR}"
    return None


def need_terraform() -> None:
    why = missing_terraform()
    if why:
        pytest.skip(f"Terraform tests skipped: {why}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def emulator():
    """moto with the provider's missing answers, on 127.0.0.1; yields its URL."""
    need_terraform()
    port = free_port()
    env = {**os.environ, **AWS, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    server = subprocess.Popen(
        [sys.executable, Path(__file__).with_name("emulator.py"), str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for k, v in AWS.items():
            mp.setenv(k, v)  # the tests' boto3 clients
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            server.terminate()
            pytest.fail("the emulator did not start")
        yield url
        server.terminate()
        server.wait(timeout=30)


# Three retries: the emulator's HTTP server drops idle keep-alive
# connections, which the provider sees as a failed request when the
# machine is busy; a 500 for a call the emulator lacks retries only thrice.
def provider_override(url: str) -> str:
    endpoints = "\n".join(f'    {s} = "{url}"' for s in SERVICES)
    return f"""# Written by infra/tests: the emulator run's provider settings.
provider "aws" {{
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  max_retries                 = 3
  endpoints {{
{endpoints}
  }}
}}
"""


class Terraform:
    """The terraform CLI in one folder of the test copy of infra/."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.cwd, self.env = cwd, env

    def run(self, *args: str, check: bool = True, timeout: float = 600, workspace: str | None = None):
        return self.finish(self.start(*args, workspace=workspace), args, check, timeout)

    def start(self, *args: str, workspace: str | None = None) -> subprocess.Popen:
        """terraform in the background; TF_WORKSPACE lets workspaces run side by side."""
        env = self.env if workspace is None else {**self.env, "TF_WORKSPACE": workspace}
        return subprocess.Popen(
            ["terraform", *args], cwd=self.cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    def finish(self, proc: subprocess.Popen, args, check: bool = True, timeout: float = 600):
        out, err = proc.communicate(timeout=timeout)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check and done.returncode != 0:
            pytest.fail(f"terraform {' '.join(args)} in {self.cwd.name} failed:\n{out[-4000:]}\n{err[-4000:]}")
        return done

    def interactive(self, *args: str) -> subprocess.Popen:
        """terraform reading its answers from a pipe (input on)."""
        env = {k: v for k, v in self.env.items() if k not in ("TF_INPUT", "TF_IN_AUTOMATION")}
        return subprocess.Popen(
            ["terraform", *args], cwd=self.cwd, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip


@pytest.fixture(scope="session")
def workdir(emulator, tmp_path_factory) -> Path:
    """infra/ copied, with the emulator's provider override in each stack."""
    root = tmp_path_factory.mktemp("infra") / "infra"
    shutil.copytree(INFRA, root, ignore=shutil.ignore_patterns(".terraform", "tests", "*.tfstate*"))
    # Modules reference deploy/ templates relative to the repository.
    (root.parent / "deploy").symlink_to(REPO / "deploy")
    for stack in (root, root / "bootstrap"):
        (stack / "providers_override.tf").write_text(provider_override(emulator))
    return root


@pytest.fixture(scope="session")
def tf_env(emulator, tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("terraform")
    rc = home / "terraformrc"
    cache = home / "plugin-cache"
    cache.mkdir()
    rc.write_text(
        'disable_checkpoint = true\n'
        f'plugin_cache_dir = "{cache}"\n'
        'plugin_cache_may_break_dependency_lock_file = true\n'
        'provider_installation {\n'
        f'  filesystem_mirror {{\n    path    = "{MIRROR}"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }}\n'
        '}\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "AWS_"))}
    return {**env, **AWS, "TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}


@pytest.fixture(scope="session")
def bootstrap(workdir, tf_env) -> dict:
    """The bootstrap stack applied (local state); its outputs."""
    tf = Terraform(workdir / "bootstrap", tf_env)
    tf.run("init", "-input=false", "-no-color")
    tf.run("apply", "-auto-approve", "-input=false", "-no-color")
    return {k: v["value"] for k, v in json.loads(tf.run("output", "-json").stdout).items()}


@pytest.fixture(scope="session")
def platform(workdir, tf_env, bootstrap, emulator) -> Terraform:
    """The root stack, initialised against the bootstrap's S3 backend and lock table."""
    tf = Terraform(workdir, tf_env)
    backend = workdir / "emulator.s3.tfbackend"
    cfg = bootstrap["backend_config"]
    backend.write_text(
        f'bucket         = "{cfg["bucket"]}"\n'
        f'key            = "{cfg["key"]}"\n'
        f'region         = "{cfg["region"]}"\n'
        f'dynamodb_table = "{cfg["dynamodb_table"]}"\n'
        "encrypt        = true\n"
        "use_path_style = true\n"
        "skip_credentials_validation = true\n"
        "skip_requesting_account_id  = true\n"
        "skip_metadata_api_check     = true\n"
        "skip_region_validation      = true\n"
        f'endpoints = {{\n  s3 = "{emulator}"\n  dynamodb = "{emulator}"\n  sts = "{emulator}"\n  iam = "{emulator}"\n}}\n'
    )
    tf.run("init", "-input=false", "-no-color", f"-backend-config={backend}")
    for ws in ("dev", "stg", "prod"):
        tf.run("workspace", "new", ws, "-no-color")
    return tf
