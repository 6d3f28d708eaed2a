"""The raw lake's contract beyond columns, read from `schemas/lake/` (the
wheel's copy, as `utils.load_schemas` reads columns), never restated here:

- `tables.json`: each producer table's kind, id, event time, keys, foreign
  keys, money columns and partition columns, in plan order (`tables`);
- `layout.schema.json`: the name of every key the producer writes, as
  patterns (`layout`);
- `manifest.schema.json`, `dataset.schema.json`, `spec.schema.json`: the
  JSON Schemas of shard manifests and the dataset claim (`json_schemas`, for
  validators such as `jsonschema`; the jobs themselves need none).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from .utils import JobError, load_schemas, schemas_dir, silver_schema

LAKE = "lake"
EVENT = "event"
SNAPSHOT = "snapshot"


@dataclass(frozen=True)
class Money:
    """A sale's amount, its currency, and the basket lines it sums."""

    amount: str
    currency: str
    lines: str


@dataclass(frozen=True)
class TableContract:
    table: str
    kind: str
    id: str
    keys: tuple[str, ...]
    # Partition columns of the table's lake files, outermost first; the
    # first is the landing day (ingest_date or snapshot_date).
    partitions: tuple[str, ...]
    event_time: str | None = None
    stream_key: str | None = None
    # column -> (table, column) it refers to, when set
    foreign_keys: dict[str, tuple[str, str]] = field(default_factory=dict, hash=False)
    money: Money | None = None

    @property
    def is_event(self) -> bool:
        return self.kind == EVENT

    @property
    def landing(self) -> str:
        """The partition column of the day a file landed (or is a snapshot of)."""
        return self.partitions[0]

    def columns(self) -> set[str]:
        """Every column this metadata names."""
        named = {self.id, *self.keys, *self.foreign_keys, self.event_time, self.stream_key}
        if self.money:
            named |= {self.money.amount, self.money.currency, self.money.lines}
        return named - {None}


class ShardKey(NamedTuple):
    """A bookkeeping key that names a shard: its manifest, journal or lock."""

    kind: str  # manifestFile, journalSegment or shardLock
    run: str
    index: int
    count: int


@dataclass(frozen=True)
class Layout:
    """The kinds of key in a lake (`layout.schema.json`'s `$defs`)."""

    patterns: dict[str, re.Pattern]
    dataset_claim: str
    extensions: tuple[str, ...]

    @property
    def manifest_dir(self) -> str:
        """The folder of manifests, the claim, journals and locks."""
        return self.dataset_claim.rsplit("/", 1)[0]

    def kind_of(self, key: str) -> str | None:
        """Which kind of key `key` is (`dataFile`, `truthFile`, `manifestFile`,
        ...), or None for a key the producer never writes."""
        if key == self.dataset_claim:
            return "datasetClaim"
        for kind in KEY_KINDS:
            if self.patterns[kind].search(key):
                return kind
        return None

    def is_manifest(self, key: str) -> bool:
        return bool(self.patterns["manifestFile"].search(key))

    def shard_of(self, key: str) -> ShardKey | None:
        """The run and shard a manifest, journal segment or lock belongs to."""
        for kind in SHARD_KINDS:
            m = self.patterns[kind].search(key)
            if m:
                run, index, count = m.groups()
                return ShardKey(kind, run, int(index), int(count))
        return None


KEY_KINDS = ("dataFile", "truthFile", "manifestFile", "journalSegment", "shardLock")
SHARD_KINDS = ("manifestFile", "journalSegment", "shardLock")


def lake_dir(directory=None):
    return (directory or schemas_dir()) / LAKE


def _read(directory, name: str):
    """A file of `schemas/lake/`, parsed."""
    try:
        return json.loads((lake_dir(directory) / name).read_text())
    except (OSError, ValueError) as e:
        raise JobError(f"schemas/{LAKE}/{name}: {e}") from None


def json_schemas(directory=None) -> dict[str, dict]:
    """The lake's JSON Schemas by `$id` (`urn:marketpulse:lake:manifest`,
    `...:dataset`, `...:spec`, `...:layout`, `...:tables`); they refer to
    each other by these ids."""
    found = {}
    for name in ("manifest", "dataset", "spec", "layout", "tables"):
        schema = _read(directory, f"{name}.schema.json")
        found[schema["$id"]] = schema
    return found


def layout(directory=None) -> Layout:
    defs = _read(directory, "layout.schema.json")["$defs"]
    patterns = {name: re.compile(d["pattern"]) for name, d in defs.items() if "pattern" in d}
    return Layout(patterns, defs["datasetClaim"]["const"], tuple(defs["extension"]["enum"]))


def tables(directory=None) -> dict[str, TableContract]:
    """Every producer table's contract, in plan order; checked against the
    tables' schema files."""
    raw = _read(directory, "tables.json")["tables"]
    found = {t["table"]: _table(t) for t in raw}
    _check(found, {t: silver_schema(v).names for t, v in load_schemas(directory).items()})
    return found


def table(name: str, directory=None) -> TableContract:
    found = tables(directory)
    if name not in found:
        raise JobError(f"unknown table '{name}' (expected {', '.join(found)})")
    return found[name]


def table_names(directory=None) -> tuple[str, ...]:
    return tuple(tables(directory))


def _table(raw: dict) -> TableContract:
    money = raw.get("money")
    return TableContract(
        table=raw["table"],
        kind=raw["kind"],
        id=raw["id"],
        keys=tuple(raw["keys"]),
        partitions=tuple(raw["partitions"]),
        event_time=raw.get("event_time"),
        stream_key=raw.get("stream_key"),
        foreign_keys={c: tuple(ref.split(".", 1)) for c, ref in raw.get("foreign_keys", {}).items()},
        money=Money(money["amount"], money["currency"], money["lines"]) if money else None,
    )


def _check(found: dict[str, TableContract], columns: dict[str, list[str]]) -> None:
    where = f"schemas/{LAKE}/tables.json"
    if set(found) != set(columns):
        raise JobError(
            f"{where} lists {', '.join(sorted(found))}; the schema files are of {', '.join(sorted(columns))}"
        )
    for name, t in found.items():
        if t.kind not in (EVENT, SNAPSHOT):
            raise JobError(f"{where}: {name}: kind '{t.kind}' is neither {EVENT} nor {SNAPSHOT}")
        unknown = sorted(t.columns() - set(columns[name]))
        if unknown:
            raise JobError(f"{where}: {name} names column(s) {', '.join(unknown)} that its schema lacks")
        for col, (other, key) in t.foreign_keys.items():
            if key not in columns.get(other, []):
                raise JobError(f"{where}: {name}.{col} refers to {other}.{key}, which no schema declares")
