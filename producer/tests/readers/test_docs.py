"""The README's usage block lists every subcommand and every flag the binary
takes, so a new user reading it misses nothing `--help` knows."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def usage_block() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Usage", 1)[1]
    return section.split("```", 2)[1]


def subcommands(binary) -> list[str]:
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
    listed = out.split("Commands:", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in listed.splitlines() if line.strip() and line.split()[0] != "help"]


def flags(binary, command: str) -> set[str]:
    out = subprocess.run([binary, command, "--help"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"--[a-z][a-z0-9-]*", out)) - {"--help", "--version"}


def test_the_usage_block_names_every_subcommand_and_flag(binary):
    block = usage_block()
    commands = subcommands(binary)
    assert {"generate", "verify", "profile", "plan", "calibrate"} <= set(commands)
    missing = {}
    for command in commands:
        assert f"marketpulse {command}" in block, f"README's usage block lacks `marketpulse {command}`"
        lines = block.split(f"marketpulse {command}", 1)[1].split("\nmarketpulse ", 1)[0]
        absent = sorted(f for f in flags(binary, command) if not re.search(rf"{re.escape(f)}(?![a-z0-9-])", lines))
        if absent:
            missing[command] = absent
    assert not missing, f"README's usage block lacks these flags: {missing}"
