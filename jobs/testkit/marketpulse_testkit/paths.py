"""Where the repository is: the toolkit is installed editable from it
(`make test`), so its own file locates the checkout under test."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
if not (REPO / "Cargo.toml").is_file() or not (REPO / "schemas").is_dir():
    raise ImportError(
        f"marketpulse_testkit is not inside a MarketPulse checkout ({REPO}): "
        "install it editable (pip install --no-deps -e jobs/testkit)"
    )
