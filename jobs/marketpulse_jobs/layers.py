"""The partition columns of the layers the jobs write: the jobs that write
silver, quarantine and gold and the catalog that registers them (and
Terraform's copy of it) read them here.

- silver (docs/decisions/ADR-005-silver-layout-for-late-data.md): a
  snapshot keeps its lake partition; an event goes by event day (and hour
  for clicks, the largest table), then the day it landed.
- quarantine: the day a record landed (a snapshot's day).
- gold: `dt=YYYY-MM-DD`.
"""

from __future__ import annotations

from . import contracts

# The day is also a column in gold's files, because Redshift's COPY reads
# only what is inside them.
GOLD_PARTITION = "dt"


def silver_partitions(table: str) -> list[str]:
    contract = contracts.table(table)
    if not contract.is_event:
        return list(contract.partitions)
    hourly = ["event_hour"] if table == "clicks" else []
    return ["event_date", *hourly, contract.landing]


def quarantine_partitions(table: str) -> list[str]:
    return [contracts.table(table).landing]
