"""The pytest plugin (entry point `marketpulse`): fixtures every suite
shares, and the markers that let a developer run one part of a suite,
e.g. `pytest -m "not spark and not infra and not container and not slow"`."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import aws, podman, producer, terraform
from . import spark as spark_session

MARKERS = {
    "spark": "starts the shared local SparkSession (a JVM)",
    "infra": "runs Terraform, against the patched moto emulator or alone",
    "container": "builds or runs the producer's container image with podman",
    "slow": "takes more than about 5 seconds without being spark, infra or container",
}
# A test using one of these fixtures, even through another fixture, gets the marker.
MARKER_OF_FIXTURE = {"spark": "spark", "tf_env": "infra", "emulator": "infra", "podman_image": "container"}


def pytest_configure(config: pytest.Config) -> None:
    for name, why in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {why}")
    producer.strip_caller_settings()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture, marker in MARKER_OF_FIXTURE.items():
            if fixture in used and item.get_closest_marker(marker) is None:
                item.add_marker(marker)


@pytest.fixture(scope="session")
def binary() -> Path:
    """The producer under test: MARKETPULSE_BIN, else target/debug/marketpulse."""
    try:
        return producer.find_binary()
    except FileNotFoundError as e:
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def moto():
    """One plain moto server for the session, started on first use; yields
    its URL. The test credentials stay in os.environ meanwhile."""
    with aws.MotoServer() as server, aws.fake_credentials():
        yield server.url


@pytest.fixture(scope="session")
def moto_s3(moto) -> str:
    """The session's moto server, for S3 (the JVM's s3a client, pyarrow)."""
    return moto


@pytest.fixture
def fake_aws(monkeypatch):
    """The test credentials and region for this test, and no endpoint of the caller's (for moto's mock_aws)."""
    for k, v in aws.AWS_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture(scope="session")
def spark():
    """One local SparkSession for the session."""
    session = spark_session.session()
    yield session
    session.stop()


@pytest.fixture(scope="session")
def podman_image(binary, tmp_path_factory) -> dict:
    """The producer's image (podman_image.IMAGE) built from the binary under
    test; returns the environment podman runs with. Skips without podman."""
    why = podman.missing_podman()
    if why:
        pytest.skip(why)
    return podman.build_image(binary, tmp_path_factory.mktemp("image-context"))


@pytest.fixture(scope="session")
def tf_env(tmp_path_factory) -> dict[str, str]:
    """terraform's environment: the mirror, one plugin cache for the session. Skips without Terraform."""
    terraform.need_terraform()
    return terraform.cli_env(tmp_path_factory.mktemp("terraform"))
