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
from dataclasses import dataclass, field
from decimal import Decimal

from pyspark.sql import functions as F

QUARANTINE = "quarantine"
WARN = "warn"
DROP = "drop"
DEDUP = "dedup"

EVENTS = ("sales", "clicks")
SNAPSHOTS = ("users", "stores")


@dataclass(frozen=True)
class TableRules:
    """What the rules need to know of a table beyond its columns."""

    id: str
    keys: tuple[str, ...]
    # foreign key column -> (snapshot table, its key column)
    foreign_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    ts: str | None = None
    amount: str | None = None
    currency: str | None = None
    items: str | None = None


TABLES = {
    "sales": TableRules(
        id="transaction_id",
        keys=("transaction_id", "store_id"),
        foreign_keys={"user_id": ("users", "user_id"), "store_id": ("stores", "store_id")},
        ts="ts",
        amount="amount",
        currency="currency",
        items="items",
    ),
    "clicks": TableRules(
        id="event_id",
        keys=("event_id", "session_id", "user_id"),
        foreign_keys={"user_id": ("users", "user_id")},
        ts="ts",
    ),
    "users": TableRules(id="user_id", keys=("user_id", "effective_from")),
    "stores": TableRules(id="store_id", keys=("store_id",)),
}


@dataclass(frozen=True)
class Params:
    """Settings of the rules, from the job's arguments."""

    currencies: frozenset[str] | None
    future_tolerance_minutes: float = 5.0
    amount_tolerance: Decimal = Decimal("0.005")


@dataclass(frozen=True)
class Rule:
    id: str
    tables: tuple[str, ...]
    description: str
    action: str
    # (table rules, params) -> Column true where a row fails; None for
    # the dedup rules, which compare rows with each other.
    check: Callable | None = None


def _unparseable(t: TableRules, p: Params):
    return F.col("_unparseable")


def _schema_mismatch(t: TableRules, p: Params):
    return F.col("_schema_mismatch")


def _null_key(t: TableRules, p: Params):
    from functools import reduce

    return reduce(lambda a, b: a | b, [F.col(k).isNull() for k in t.keys])


def _negative_amount(t: TableRules, p: Params):
    return F.col(t.amount) < 0


def _unknown_currency(t: TableRules, p: Params):
    if p.currencies is None:
        return F.lit(False)
    return ~F.col(t.currency).isin(sorted(p.currencies))


def _future_timestamp(t: TableRules, p: Params):
    seconds = int(3600 + p.future_tolerance_minutes * 60)
    return F.col(t.ts) > F.col("_landing_start") + F.expr(f"INTERVAL {seconds} SECONDS")


def _amount_mismatch(t: TableRules, p: Params):
    total = F.aggregate(
        F.col(t.items),
        F.lit(0).cast("decimal(38,2)"),
        lambda acc, x: (acc + x["qty"].cast("decimal(20,0)") * x["unit_price"]).cast("decimal(38,2)"),
    )
    return F.abs(F.col(t.amount) - total) > F.lit(p.amount_tolerance)


def _unknown_foreign_key(t: TableRules, p: Params):
    return F.col("_fk_missing")


def _late(t: TableRules, p: Params):
    return F.col(t.ts) < F.col("_landing_start")


RULES: tuple[Rule, ...] = (
    Rule("unparseable", EVENTS + SNAPSHOTS, "the line cannot be parsed (cut JSON line, CSV row with the wrong field count)", QUARANTINE, _unparseable),
    Rule("schema_mismatch", EVENTS + SNAPSHOTS, "a value does not convert to its declared type, or a required column is null", QUARANTINE, _schema_mismatch),
    Rule("null_key", EVENTS + SNAPSHOTS, "a key column is null", QUARANTINE, _null_key),
    Rule("negative_amount", ("sales",), "amount below zero", QUARANTINE, _negative_amount),
    Rule("unknown_currency", ("sales",), "currency missing from the configured FX table", QUARANTINE, _unknown_currency),
    Rule("future_timestamp", EVENTS, "event time after the end of its landing hour, plus a tolerance", QUARANTINE, _future_timestamp),
    Rule("amount_mismatch", ("sales",), "amount differs from the sum of qty x unit_price by more than the tolerance", QUARANTINE, _amount_mismatch),
    Rule("unknown_foreign_key", EVENTS, "user_id or store_id absent from the users or stores snapshots", QUARANTINE, _unknown_foreign_key),
    Rule("late", EVENTS, "event time before its landing hour: kept, placed in its event-time partition", WARN, _late),
    Rule("duplicate", EVENTS, "exact copy of a record landed earlier", DROP),
    Rule("near_duplicate", EVENTS, "same id as a record landed earlier, other payload: the first landed wins", DEDUP),
)


def rules_for(table: str) -> list[Rule]:
    return [r for r in RULES if table in r.tables]


def evaluate(df, table: str, params: Params):
    """Adds `_failed` (every failed row rule, warnings included, in rule
    order), `_quarantine` (the failed quarantine rules) and `_reason` (the
    first of those). A record that cannot be parsed fails that rule only."""
    t = TABLES[table]
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
