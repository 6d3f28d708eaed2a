"""A few small producer lakes, shared by every jobs test (the SparkSession,
moto and the binary come from marketpulse_testkit's pytest plugin)."""

from pathlib import Path

import pytest
from marketpulse_testkit import DIRTY, generate
from marketpulse_testkit.jobs import LAKE_FLAGS


@pytest.fixture(scope="session")
def lakes(binary, tmp_path_factory):
    """Dirty lakes by format (made on first use) and the clean Parquet lake."""
    root = tmp_path_factory.mktemp("lakes")
    made: dict[str, Path] = {}

    def lake(name: str) -> Path:
        if name not in made:
            if name == "clean":
                made[name] = generate(binary, root / name, *LAKE_FLAGS)
            else:
                fmt, _, compression = name.partition(".")
                codec = {"gz": "gzip", "zst": "zstd"}.get(compression)
                extra = ["--format", fmt] + (["--compression", codec] if codec else [])
                made[name] = generate(binary, root / name, *LAKE_FLAGS, *extra, config=DIRTY)
        return made[name]

    return lake
