"""Data-quality rules, declared once.

Each rule has an id, the tables it checks, a description and an action:
- `quarantine`: the record leaves silver for `quarantine/` with the ids of
  every rule it failed;
- `warn`: the record stays and is counted (late data);
- `drop`: exact duplicates, removed and counted;
- `dedup`: near-duplicates (same id, other payload); the first landed wins,
  the others are quarantined.

Row rules are plain PySpark expressions that are true where a row fails;
they are evaluated together into one array of failed rule ids, so one pass
gives every row all of its reasons. The order of `RULES` is the order of
precedence: a quarantined record's `reason` is its first failed rule.
Why a rule table and not pandera or Great Expectations:
docs/decisions/ADR-004-data-quality-rules.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from pyspark.sql import functions as F

from . import contracts
from .contracts import TableContract

QUARANTINE = "quarantine"
WARN = "warn"
DROP = "drop"
DEDUP = "dedup"


# Which tables a rule checks, by what the table's contract
# (`schemas/lake/tables.json`) says it has.
def _every(t: TableContract) -> bool:
    return True


def _events(t: TableContract) -> bool:
    return t.is_event


def _has_money(t: TableContract) -> bool:
    return t.money is not None


def _has_foreign_keys(t: TableContract) -> bool:
    return bool(t.foreign_keys)


@dataclass(frozen=True)
class Params:
    """Settings of the rules, from the job's arguments."""

    currencies: frozenset[str] | None
    future_tolerance_minutes: float = 5.0
    amount_tolerance: Decimal = Decimal("0.005")


@dataclass(frozen=True)
class Rule:
    id: str
    # Whether the rule checks a table, from its contract.
    applies: Callable[[TableContract], bool]
    description: str
    action: str
    # (table contract, params) -> Column true where a row fails; None for
    # the dedup rules, which compare rows with each other.
    check: Callable | None = None


def _unparseable(t: TableContract, p: Params):
    return F.col("_unparseable")


def _schema_mismatch(t: TableContract, p: Params):
    return F.col("_schema_mismatch")


def _null_key(t: TableContract, p: Params):
    from functools import reduce

    return reduce(lambda a, b: a | b, [F.col(k).isNull() for k in t.keys])


def _negative_amount(t: TableContract, p: Params):
    return F.col(t.money.amount) < 0


def _unknown_currency(t: TableContract, p: Params):
    if p.currencies is None:
        return F.lit(False)
    return ~F.col(t.money.currency).isin(sorted(p.currencies))


def _future_timestamp(t: TableContract, p: Params):
    seconds = int(3600 + p.future_tolerance_minutes * 60)
    return F.col(t.event_time) > F.col("_landing_start") + F.expr(f"INTERVAL {seconds} SECONDS")


def _amount_mismatch(t: TableContract, p: Params):
    total = F.aggregate(
        F.col(t.money.lines),
        F.lit(0).cast("decimal(38,2)"),
        lambda acc, x: (acc + x["qty"].cast("decimal(20,0)") * x["unit_price"]).cast("decimal(38,2)"),
    )
    return F.abs(F.col(t.money.amount) - total) > F.lit(p.amount_tolerance)


def _unknown_foreign_key(t: TableContract, p: Params):
    return F.col("_fk_missing")


def _late(t: TableContract, p: Params):
    return F.col(t.event_time) < F.col("_landing_start")


RULES: tuple[Rule, ...] = (
    Rule("unparseable", _every, "the line cannot be parsed (cut JSON line, CSV row with the wrong field count)", QUARANTINE, _unparseable),
    Rule("schema_mismatch", _every, "a value does not convert to its declared type, or a required column is null", QUARANTINE, _schema_mismatch),
    Rule("null_key", _every, "a key column is null", QUARANTINE, _null_key),
    Rule("negative_amount", _has_money, "amount below zero", QUARANTINE, _negative_amount),
    Rule("unknown_currency", _has_money, "currency missing from the configured FX table", QUARANTINE, _unknown_currency),
    Rule("future_timestamp", _events, "event time after the end of its landing hour, plus a tolerance", QUARANTINE, _future_timestamp),
    Rule("amount_mismatch", _has_money, "amount differs from the sum of qty x unit_price by more than the tolerance", QUARANTINE, _amount_mismatch),
    Rule("unknown_foreign_key", _has_foreign_keys, "user_id or store_id absent from the users or stores snapshots", QUARANTINE, _unknown_foreign_key),
    Rule("late", _events, "event time before its landing hour: kept, placed in its event-time partition", WARN, _late),
    Rule("duplicate", _events, "exact copy of a record landed earlier", DROP),
    Rule("near_duplicate", _events, "same id as a record landed earlier, other payload: the first landed wins", DEDUP),
)


def rules_for(table: str) -> list[Rule]:
    t = contracts.table(table)
    return [r for r in RULES if r.applies(t)]


def evaluate(df, table: str, params: Params):
    """Adds `_failed` (every failed row rule, warnings included, in rule
    order), `_quarantine` (the failed quarantine rules) and `_reason` (the
    first of those). A record that cannot be parsed fails that rule only."""
    t = contracts.table(table)
    checks = []
    for rule in rules_for(table):
        if rule.check is None:
            continue
        cond = rule.check(t, params)
        if rule.id != "unparseable":
            cond = ~F.col("_unparseable") & cond
        checks.append((rule, F.when(F.coalesce(cond, F.lit(False)), F.lit(rule.id))))
    failed = F.filter(F.array(*[c for _, c in checks]), lambda x: x.isNotNull())
    blocking = [r.id for r, _ in checks if r.action == QUARANTINE]
    df = df.withColumn("_failed", failed)
    df = df.withColumn(
        "_quarantine",
        F.filter(F.col("_failed"), lambda x: x.isin(blocking)),
    )
    return df.withColumn("_reason", F.element_at(F.col("_quarantine"), 1))
