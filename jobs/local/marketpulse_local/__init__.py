"""MarketPulse's jobs on one machine: local stand-ins for the Glue runtime
(`glue`) and for Redshift (`redshift`), and the whole pipeline through them
(`pipeline`, `make pipeline`). For development and tests only: EMR and Glue
get the `marketpulse_jobs` wheel alone."""
