"""MarketPulse data jobs: bronze -> silver (Spark on EMR), silver -> gold (Glue)."""

__version__ = "0.1.0"
