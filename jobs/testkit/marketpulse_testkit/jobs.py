"""Small lakes for the jobs' tests, and one run of bronze_to_silver."""

from __future__ import annotations

import json
from pathlib import Path

START = "2024-01-01"
DAYS = ["2024-01-01", "2024-01-02"]
# Two days, clicks switching to v2 on the second.
LAKE_FLAGS = ["--quiet", "--scale", "0.001", "--days", "2", "--start", START, "--clicks-v2-from", DAYS[1], "--threads", "1"]


def run_job(spark, lake: Path, out: Path, *extra: str) -> dict:
    """bronze_to_silver from `lake` into `out`/{silver,quarantine}; its metrics."""
    from marketpulse_jobs import bronze_to_silver as b2s

    argv = ["--raw", str(lake), "--silver", str(out / "silver"), "--quarantine", str(out / "quarantine")]
    argv += ["--metrics", str(out / "metrics.json"), "--run-id", "test-run", *extra]
    assert b2s.main(argv, spark=spark) == 0
    return json.loads((out / "metrics.json").read_text())
