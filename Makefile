# `make run`: one day at scale 1 into ./lake. `make test`: every test; it
# installs what it needs (a Python venv for the reader tests) itself.

VENV := .venv
READERS := producer/tests/readers

.PHONY: run test lint bench

run:
	cargo run --release --locked -- generate

test: $(VENV)/.installed
	cargo test --locked --workspace
	MARKETPULSE_BIN=target/debug/marketpulse $(VENV)/bin/pytest -q $(READERS)

lint: $(VENV)/.installed
	cargo fmt --all --check
	cargo clippy --locked --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check producer/tests load-tests

bench: $(VENV)/.installed
	cargo build --release --locked
	python3 load-tests/bench_producer.py --runs 5
	python3 load-tests/bench_sinks.py --runs 3
	python3 load-tests/bench_reliability.py --runs 5

$(VENV)/.installed: $(READERS)/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $(READERS)/requirements.txt
	touch $@
