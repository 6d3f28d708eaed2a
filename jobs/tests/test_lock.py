"""jobs/requirements.lock, which `make test` installs with --require-hashes,
holds every requirement of the inputs and of the local packages (installed
with --no-deps) at a version they allow, each with its hashes: an input
edited without `make lock` fails here, not as an import error later."""

import importlib.metadata
import re
import tomllib

import pytest
from marketpulse_testkit import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK = REPO / "jobs" / "requirements.lock"
INPUTS = [REPO / "producer" / "tests" / "readers" / "requirements.txt", REPO / "jobs" / "requirements.txt"]
# The repository's own packages: jobs, jobs/local, jobs/testkit, deploy.
LOCAL = sorted({*REPO.glob("jobs/pyproject.toml"), *REPO.glob("jobs/*/pyproject.toml"), *REPO.glob("deploy/pyproject.toml")})


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from the lock."""
    out: dict[str, tuple[str, list[str]]] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text()):
        head = re.match(r"([A-Za-z0-9._-]+)==(\S+)", entry)
        if head:
            out[canonicalize_name(head[1])] = (head[2], re.findall(r"--hash=sha256:([0-9a-f]{64})", entry))
    return out


def required() -> list[tuple[str, Requirement]]:
    """(where, requirement) for every input line and every local package's
    dependency, extras included; not the repository's own packages."""
    out = []
    for path in INPUTS:
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                out.append((path.relative_to(REPO), Requirement(line)))
    for path in LOCAL:
        project = tomllib.loads(path.read_text())["project"]
        deps = [*project.get("dependencies", [])]
        for extra in project.get("optional-dependencies", {}).values():
            deps += extra
        out += [(path.relative_to(REPO), Requirement(d)) for d in deps]
    return [(where, r) for where, r in out if not canonicalize_name(r.name).startswith("marketpulse-")]


def test_the_local_packages_are_found():
    names = {str(p.relative_to(REPO)) for p in LOCAL}
    assert {"jobs/pyproject.toml", "jobs/testkit/pyproject.toml"} <= names


def test_every_locked_package_has_hashes():
    pins = locked()
    assert len(pins) > 50
    assert [name for name, (_, hashes) in pins.items() if not hashes] == []


@pytest.mark.parametrize(("where", "req"), required(), ids=lambda v: str(v))
def test_every_requirement_is_locked_at_a_version_it_allows(where, req):
    pins = locked()
    name = canonicalize_name(req.name)
    assert name in pins, f"{where}: {req} is not in {LOCK.name}: run make lock"
    version = pins[name][0]
    assert req.specifier.contains(version, prereleases=True), f"{where}: {req} excludes the locked {version}: run make lock"
    # An extra's own requirements (moto[server]: flask, ...), read from the
    # installed distribution, which `make test` installs from this lock.
    if req.extras and importlib.metadata.version(req.name) == version:
        for dep in map(Requirement, importlib.metadata.requires(req.name) or []):
            wanted = [e for e in req.extras if dep.marker and dep.marker.evaluate({"extra": e, "python_version": "3.11"})]
            if wanted:
                assert canonicalize_name(dep.name) in pins, f"{where}: {req} needs {dep}, which is not locked"


def test_moto_is_pinned_exactly():
    """infra/tests/emulator.py patches moto's internals: one exact version, the one locked."""
    (pin,) = {str(r.specifier) for where, r in required() if r.name == "moto" and where.suffix == ".txt"}
    assert re.fullmatch(r"==\d+\.\d+\.\d+", pin), pin
    assert locked()["moto"][0] == pin[2:]
