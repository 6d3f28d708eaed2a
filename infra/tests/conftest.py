"""One emulator (moto, patched by emulator.py), one copy of infra/ with the
emulator's provider overrides and one bootstrap apply per test run; the
Terraform CLI settings (tf_env) come from marketpulse_testkit's plugin."""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from marketpulse_testkit import REPO, MotoServer
from marketpulse_testkit.aws import AWS_ENV, fake_credentials
from marketpulse_testkit.terraform import (
    APPLY,
    DESTROY,
    Terraform,
    need_terraform,
    var_file,
)

SERVICES = [
    "s3", "dynamodb", "sts", "iam", "kms", "ec2", "glue", "emr", "redshift", "ecs", "logs", "cloudwatch",
    "sns", "budgets", "kinesis", "firehose", "batch", "events", "ecr", "secretsmanager",
]  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The access ledger (test_access.py) runs the producer, which the build
    beside this suite makes: it runs after every other applied test, and
    the destroys after it (prod's runs beside the ledger: prod_teardown)."""
    access = [i for i in items if i.module.__name__.endswith("test_access")]
    destroy = [i for i in items if i.name in ("test_prod_is_destroyed_whole", "test_dev_is_destroyed_whole")]
    rest = [i for i in items if i not in access and i not in destroy]
    items[:] = rest + access + destroy


@pytest.fixture(scope="session")
def emulator():
    """moto with the provider's missing answers, on 127.0.0.1; yields its URL."""
    need_terraform()
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    with MotoServer(Path(__file__).with_name("emulator.py"), env=env, start_seconds=60) as server, fake_credentials():
        yield server.url  # the tests' boto3 clients take the credentials from os.environ


# Three retries: the emulator's HTTP server drops idle keep-alive
# connections, which the provider sees as a failed request when the
# machine is busy; a 500 for a call the emulator lacks retries only thrice.
def provider_override(url: str) -> str:
    endpoints = "\n".join(f'    {s} = "{url}"' for s in SERVICES)
    return f"""# Written by infra/tests: the emulator run's provider settings.
provider "aws" {{
  access_key                  = "{AWS_ENV['AWS_ACCESS_KEY_ID']}"
  secret_key                  = "{AWS_ENV['AWS_SECRET_ACCESS_KEY']}"
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


@pytest.fixture(scope="session")
def workdir(emulator, tmp_path_factory) -> Path:
    """infra/ copied, with the emulator's provider override in each stack."""
    root = tmp_path_factory.mktemp("infra") / "infra"
    shutil.copytree(REPO / "infra", root, ignore=shutil.ignore_patterns(".terraform", "tests", "*.tfstate*"))
    # Modules reference deploy/ templates and the jobs' Spark settings
    # relative to the repository.
    for beside in ("deploy", "jobs"):
        (root.parent / beside).symlink_to(REPO / beside)
    for stack in (root, root / "bootstrap"):
        (stack / "providers_override.tf").write_text(provider_override(emulator))
    return root


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


@pytest.fixture(scope="session")
def applied(platform, emulator):
    """dev and prod applied (side by side); yields each one's outputs, then destroys what is left."""
    started = {env: platform.start(*APPLY, *var_file(env), workspace=env) for env in ("dev", "prod")}
    for env, proc in started.items():
        platform.finish(proc, ("apply", env), timeout=900)
    outputs = {
        env: {k: v["value"] for k, v in json.loads(platform.run("output", "-json", workspace=env).stdout).items()}
        for env in started
    }
    yield outputs
    for env in ("dev", "prod"):  # after a failure before the destroy tests
        if platform.run("state", "list", check=False, workspace=env).stdout.strip():
            platform.run(*APPLY, *var_file(env), "-var=force_destroy=true", check=False, workspace=env)
            platform.run(*DESTROY, *var_file(env), "-var=force_destroy=true", check=False, workspace=env)


@pytest.fixture(scope="session")
def prod_teardown(platform, applied):
    """prod torn down in the background, as docs/runbooks/teardown.md says
    (an apply with force_destroy, since access logs keep arriving, then the
    destroy); yields the future of both runs. The access ledger, which needs
    dev only, starts it so that the two wait on the emulator together;
    test_prod_is_destroyed_whole waits for it."""

    def teardown() -> list:
        done = [platform.run(*APPLY, *var_file("prod"), "-var=force_destroy=true", check=False, workspace="prod")]
        if done[0].returncode == 0:
            done.append(platform.run(*DESTROY, *var_file("prod"), "-var=force_destroy=true", check=False,
                                     workspace="prod", timeout=900))  # fmt: skip
        return done

    with ThreadPoolExecutor(1) as pool:
        future: Future = pool.submit(teardown)
        yield future
