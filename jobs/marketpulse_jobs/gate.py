"""The data-quality gate: a day whose tables quarantine more of their records
than their threshold stops before gold. bronze->silver has already written
silver and the quarantine by then; the gate keeps gold and the marts on the
last good day until the day is fixed and run again.

    python -m marketpulse_jobs.gate METRICS [--thresholds FILE]

METRICS is bronze->silver's metrics record (`--metrics`: a path or s3://).
The thresholds ship in this package (`quality_gate.json`): the daily chain's
gate step and `make pipeline` read the same file. Exit 0 when every table is
within its threshold, 3 when the gate blocks (one line naming each table, its
rate and its threshold), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from . import contracts
from .utils import JobError

BLOCKED = 3


@dataclass(frozen=True)
class Verdict:
    table: str
    quarantined: int
    rows_in: int
    threshold: float

    @property
    def rate(self) -> float:
        return self.quarantined / self.rows_in if self.rows_in else 0.0

    @property
    def passed(self) -> bool:
        return self.rate <= self.threshold

    def describe(self) -> str:
        return (
            f"{self.table} quarantined {self.rate:.2%} ({self.quarantined:,} of {self.rows_in:,} records), "
            f"{'within' if self.passed else 'above'} its threshold of {self.threshold:.2%}"
        )


def thresholds(text: str | None = None) -> dict[str, float]:
    """Each table's highest quarantine rate that passes: `quality_gate.json`
    (or `text`), its `default` for a table it does not name."""
    source = text if text is not None else (files(__package__) / "quality_gate.json").read_text()
    try:
        limits = json.loads(source)["max_quarantine_rate"]
    except (ValueError, KeyError, TypeError) as e:
        raise JobError(f"quality gate thresholds: expected {{\"max_quarantine_rate\": {{\"default\": RATE, ...}}}} ({e})")
    tables = contracts.table_names()
    unknown = sorted(set(limits) - {"default", *tables})
    if unknown:
        raise JobError(f"quality gate thresholds: unknown table(s) {', '.join(unknown)} (expected {', '.join(tables)})")
    if "default" not in limits:
        raise JobError("quality gate thresholds: no default rate")
    for name, rate in limits.items():
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise JobError(f"quality gate thresholds: {name} is {rate!r}, not a rate between 0 and 1")
    return {t: float(limits.get(t, limits["default"])) for t in tables}


def judge(metrics: dict, limits: dict[str, float]) -> list[Verdict]:
    """One verdict per table of bronze->silver's metrics record that read records."""
    verdicts = []
    for table, values in sorted(metrics.get("tables", {}).items()):
        if table not in limits:
            raise JobError(f"quality gate: metrics name table '{table}', which schemas/ does not declare")
        rows_in = int(values.get("rows_in", 0))
        if rows_in:
            verdicts.append(Verdict(table, int(values.get("quarantined", 0)), rows_in, limits[table]))
    if not verdicts:
        raise JobError("quality gate: the metrics record no table with records: nothing to judge")
    return verdicts


def blocked_line(verdicts: list[Verdict]) -> str | None:
    """The one line a blocked gate reports, or None when it passes."""
    failed = [v for v in verdicts if not v.passed]
    return "quality gate blocked the day: " + "; ".join(v.describe() for v in failed) if failed else None


def read_metrics(uri: str) -> dict:
    try:
        if uri.startswith(("s3://", "s3a://")):
            import boto3

            bucket, _, key = uri.split("://", 1)[1].partition("/")
            body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        else:
            body = Path(uri).read_bytes()
        return json.loads(body)
    except ValueError as e:
        raise JobError(f"{uri} is not a metrics record: {e}")
    except Exception as e:  # noqa: BLE001 -- a missing file or object, denied access: one line
        first = (str(e).strip().splitlines() or [""])[0]
        raise JobError(f"cannot read {uri}: {type(e).__name__}: {first}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    p = _Parser(prog="marketpulse-gate", description=__doc__.split("\n\n")[0])
    p.add_argument("metrics", help="bronze->silver's metrics record: a path or s3://bucket/key")
    p.add_argument("--thresholds", help="a thresholds file instead of the packaged quality_gate.json")
    a = p.parse_args(argv)
    try:
        text = Path(a.thresholds).read_text() if a.thresholds else None
        verdicts = judge(read_metrics(a.metrics), thresholds(text))
    except (JobError, OSError) as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2
    line = blocked_line(verdicts)
    if line:
        print(line, file=sys.stderr)
        return BLOCKED
    print("quality gate passed: " + "; ".join(v.describe() for v in verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
