"""The wheel that ships to EMR and Glue (jobs/dist, from `make wheel`):
exactly the modules the EMR and Glue entry points reach, the table
definitions, and a declared dependency for every package it imports. The
local stand-ins and the pipeline runner live in marketpulse_local."""

import ast
import email
import json
import re
import sys
import zipfile

import pytest
from marketpulse_testkit import REPO

DIST = REPO / "jobs" / "dist"
PACKAGE = "marketpulse_jobs"


@pytest.fixture(scope="module")
def wheel() -> zipfile.ZipFile:
    found = sorted(DIST.glob(f"{PACKAGE}-*-py3-none-any.whl"))
    if len(found) != 1:
        pytest.fail(f"expected one {PACKAGE} wheel in {DIST}, found {len(found)}: `make wheel` builds it")
    with zipfile.ZipFile(found[0]) as z:
        yield z


def modules(wheel: zipfile.ZipFile) -> dict[str, ast.Module]:
    """The wheel's modules by name, parsed."""
    out = {}
    for name in wheel.namelist():
        if m := re.fullmatch(rf"{PACKAGE}/(\w+)\.py", name):
            out[m[1]] = ast.parse(wheel.read(name))
    return out


def imports(tree: ast.Module) -> tuple[set[str], set[str]]:
    """The package's own modules and the top-level outside names `tree` imports, anywhere in it."""
    own, outside = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top, _, rest = alias.name.partition(".")
                if top == PACKAGE:
                    own.add(rest.split(".")[0])
                else:
                    outside.add(top)
        elif isinstance(node, ast.ImportFrom):
            top, _, rest = (node.module or "").partition(".")
            if node.level or top == PACKAGE:
                base = (node.module or "") if node.level else rest
                own |= {base.split(".")[0]} if base else {a.name for a in node.names}
            else:
                outside.add(top)
    return own, outside


def test_the_wheel_holds_what_the_entry_points_reach_and_no_stand_in(wheel):
    parsed = modules(wheel)
    reached, todo = {"__init__"}, []
    for script in sorted((REPO / "jobs" / "entrypoints").glob("*.py")):
        todo += imports(ast.parse(script.read_text()))[0]
    # Modules EMR steps run as `python3 -m marketpulse_jobs.<module>`.
    for step in sorted((REPO / "deploy" / "emr" / "steps").glob("*.json")):
        args = json.loads(step.read_text())["HadoopJarStep"]["Args"]
        todo += [a.split(".", 1)[1] for i, a in enumerate(args) if i and args[i - 1] == "-m" and a.startswith(f"{PACKAGE}.")]
    while todo:
        name = todo.pop()
        if name not in reached:
            assert name in parsed, f"an entry point needs {PACKAGE}.{name}, which the wheel lacks"
            reached.add(name)
            todo += imports(parsed[name])[0]
    assert set(parsed) == reached
    names = wheel.namelist()
    for stand_in in ("glue_local", "redshift_local", "pipeline", "entrypoints/", "redshift_sql/", "marketpulse_local"):
        assert not any(stand_in in n for n in names), stand_in
    assert f"{PACKAGE}/schemas/sales.v1.json" in names


def test_every_package_it_imports_is_a_declared_dependency(wheel):
    outside = set()
    for tree in modules(wheel).values():
        outside |= imports(tree)[1]
    third_party = {n for n in outside if n not in sys.stdlib_module_names and n != "__future__"}
    (meta,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    requires = email.message_from_bytes(wheel.read(meta)).get_all("Requires-Dist") or []
    declared = {re.match(r"[A-Za-z0-9_.-]+", r)[0].lower().replace("-", "_") for r in requires}
    assert third_party == declared == {"boto3", "pyspark"}
    # pyspark only as an extra: a plain pip install on EMR must not pull a second Spark.
    assert [r for r in requires if r.startswith("pyspark")] == ["pyspark<3.6,>=3.5; extra == 'spark'"]
