"""What the launchers read of a lake, as `schemas/lake/layout.schema.json`
(shipped beside this module) declares it: the folder of shard bookkeeping,
and which keys in it are shard manifests and journal segments. Keys are
relative to the lake's root.

Standard library only, and it reads the contract as a package resource:
`marketpulse-emr publish` zips this package's `__init__`, this module and
the contract for the EMR fleet driver, which imports it from there."""

from __future__ import annotations

import json
import re
from importlib.resources import files

# By this module's name: Python 3.9's zipimport runs a module before it sets
# its `__package__`.
DEFS = json.loads((files(__name__.rpartition(".")[0]) / "layout.schema.json").read_text())["$defs"]
# Holds the dataset claim, the shard manifests, their journals and locks.
MANIFEST_DIR = DEFS["datasetClaim"]["const"].rsplit("/", 1)[0]
# Groups of both: run, shard index, shard count.
MANIFEST = re.compile(DEFS["manifestFile"]["pattern"])
JOURNAL = re.compile(DEFS["journalSegment"]["pattern"])


def _shard(pattern: re.Pattern, key: str) -> tuple[int, int] | None:
    m = pattern.match(key)
    return (int(m[2]), int(m[3])) if m else None


def manifest_shard(key: str) -> tuple[int, int] | None:
    """(index, count) when `key` is a shard's manifest."""
    return _shard(MANIFEST, key)


def journal_shard(key: str) -> tuple[int, int] | None:
    """(index, count) when `key` is a segment of a shard's journal."""
    return _shard(JOURNAL, key)
