"""The terraform CLI for tests: the provider from the machine's mirror,
one plugin cache for every `init` of a run, no prompts, no checkpoint
calls. Terraform and the AWS provider mirror come with the machine image;
without them the tests that need them skip and say what is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .aws import AWS_ENV

MIRROR = Path(os.environ.get("MARKETPULSE_TF_MIRROR", "/opt/tf-plugins"))
PROVIDER = MIRROR / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0"
APPLY = ("apply", "-auto-approve", "-no-color", "-input=false")
DESTROY = ("destroy", "-auto-approve", "-no-color", "-input=false")


def var_file(env: str) -> list[str]:
    """The root stack's arguments for `env` on the emulator (infra/tests)."""
    return [f"-var-file=envs/{env}.tfvars", "-var=emulator=true"]


def missing_terraform() -> str | None:
    """Why Terraform tests cannot run here, or None."""
    if shutil.which("terraform") is None:
        return "the terraform CLI is not on PATH (the machine image ships Terraform 1.11)"
    if not PROVIDER.is_dir():
        return f"the hashicorp/aws 5.100.0 provider mirror is missing at {MIRROR}"
    return None


def need_terraform() -> None:
    why = missing_terraform()
    if why:
        pytest.skip(f"Terraform tests skipped: {why}")


def cli_env(home: Path) -> dict[str, str]:
    """The environment for terraform: a CLI config in `home` (mirror, plugin
    cache), the test credentials, and none of the caller's TF_ or AWS_ settings."""
    rc = home / "terraformrc"
    cache = home / "plugin-cache"
    cache.mkdir(parents=True, exist_ok=True)
    rc.write_text(
        "disable_checkpoint = true\n"
        f'plugin_cache_dir = "{cache}"\n'
        "plugin_cache_may_break_dependency_lock_file = true\n"
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{MIRROR}"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }}\n'
        "}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "AWS_"))}
    return {
        **env,
        **AWS_ENV,
        "TF_CLI_CONFIG_FILE": str(rc),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
    }


class Terraform:
    """The terraform CLI in one folder."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.cwd, self.env = cwd, env

    def run(self, *args: str, check: bool = True, timeout: float = 600, workspace: str | None = None):
        return self.finish(self.start(*args, workspace=workspace), args, check, timeout)

    def start(self, *args: str, workspace: str | None = None) -> subprocess.Popen:
        """terraform in the background; TF_WORKSPACE lets workspaces run side by side."""
        env = self.env if workspace is None else {**self.env, "TF_WORKSPACE": workspace}
        return subprocess.Popen(
            ["terraform", *args], cwd=self.cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

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
            ["terraform", *args],
            cwd=self.cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
