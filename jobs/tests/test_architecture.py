"""ARCHITECTURE.md's rules for the Python packages, checked on their source:
what each package may import, no import cycle inside a package (imports
inside functions count), and no suite reaching into another's files."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from marketpulse_testkit import REPO

PACKAGES = {
    "marketpulse_jobs": REPO / "jobs" / "marketpulse_jobs",
    "marketpulse_local": REPO / "jobs" / "local" / "marketpulse_local",
    "marketpulse_deploy": REPO / "deploy" / "marketpulse_deploy",
    "marketpulse_testkit": REPO / "jobs" / "testkit" / "marketpulse_testkit",
}
# Third-party top-level modules each package may import (beyond the
# standard library and itself), and the project's packages it may use.
ALLOWED = {
    "marketpulse_jobs": {"pyspark", "boto3", "botocore"},
    "marketpulse_local": {"pyspark", "boto3", "botocore", "duckdb", "sqlglot", "pyarrow", "awsglue", "marketpulse_jobs"},
    "marketpulse_deploy": {"pyspark", "boto3", "botocore"},
    "marketpulse_testkit": {
        "pytest", "boto3", "botocore", "moto", "pyspark", "duckdb", "pyarrow",
        "marketpulse_jobs", "marketpulse_local", "marketpulse_deploy",
    },
}  # fmt: skip
SUITES = [
    REPO / "producer" / "tests" / "readers",
    REPO / "jobs" / "tests",
    REPO / "deploy" / "tests",
    REPO / "infra" / "tests",
    REPO / "load-tests",
]


def modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of a package."""
    root = PACKAGES[package]
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path) -> set[str]:
    """Every module `path` imports, anywhere in the file, as absolute names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def graph(package: str) -> dict[str, set[str]]:
    mods = modules(package)
    edges = {}
    for name, path in mods.items():
        targets = {t for t in imports(name, path) if t in mods and t != name}
        # A parent package is imported on the way to any of its modules.
        edges[name] = {t for t in targets if not name.startswith(f"{t}.")}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of a directed graph as a path that returns to its start, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycle_inside_a_package(package):
    edges = graph(package)
    assert len(edges) >= 2, f"{package}: no modules found under {PACKAGES[package]}"
    cycle = find_cycle(edges)
    assert cycle is None, f"{package} has an import cycle: {' -> '.join(cycle)}"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_a_package_imports_only_what_architecture_allows(package):
    allowed = ALLOWED[package] | {package}
    wrong = set()
    for name, path in modules(package).items():
        for module in imports(name, path):
            top = module.split(".")[0]
            if top not in sys.stdlib_module_names and top not in allowed and top != "__future__":
                wrong.add(f"{path.relative_to(REPO)}: {top}")
    assert not wrong, f"imports ARCHITECTURE.md does not allow: {sorted(wrong)}"


def test_no_production_code_imports_the_test_toolkit():
    for package in PACKAGES.keys() - {"marketpulse_testkit"}:
        for name, path in modules(package).items():
            assert not any(m.startswith("marketpulse_testkit") for m in imports(name, path)), path


def test_no_suite_edits_sys_path_or_imports_a_conftest():
    offenders = []
    roots = [*SUITES, *PACKAGES.values(), REPO / "jobs" / "entrypoints"]
    for path in sorted({p for root in roots for p in root.rglob("*.py")}):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", "") == "sys":
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: sys.path")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                if "conftest" in names:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: imports conftest")
    assert not offenders, offenders
