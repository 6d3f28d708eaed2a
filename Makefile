# `make run`: one day at scale 1 into ./lake. `make test`: every test; it
# installs what it needs (a Python venv for the reader and Spark tests, the
# jobs wheel) itself.

VENV := .venv
# uv installs the venvs (a third of pip's time, most of it in parallel
# downloads) and compiles the lock; itself from PyPI, pinned.
UV := target/uv
UV_VERSION := 0.13.9
# The independent IAM evaluator the access ledger is judged by, and
# asl-validator for the daily chain (node 20,
# npm's lock): infra/tests/access.
EVALUATOR := infra/tests/access
# checkov pins clash with the test venv's (python-hcl2): its own venv.
CHECKOV := .venv-checkov
CHECKOV_VERSION := 3.3.30
READERS := producer/tests/readers
REQUIREMENTS := $(READERS)/requirements.txt jobs/requirements.txt
# Every Python dependency of the test venv, pinned with hashes: see `lock`.
# jobs/local is no input (it requires marketpulse-jobs, which is no PyPI
# package); jobs/tests/test_lock.py checks that the lock covers it too.
LOCK := jobs/requirements.lock
LOCK_INPUTS := $(REQUIREMENTS) jobs/pyproject.toml jobs/testkit/pyproject.toml $(wildcard deploy/pyproject.toml)
# The shared test toolkit (fixtures, moto, Spark, Terraform), installed
# editable so its pytest plugin serves every suite.
TESTKIT := $(VENV)/.testkit
# Extra pytest arguments for one suite, e.g.
# make test-jobs PYTEST_ARGS='-m "not slow"'
PYTEST_ARGS ?=
# The Python tests that need no JVM, Terraform or container and take under
# about 5 s each: test-fast's selection.
FAST_MARKERS := not spark and not infra and not container and not slow
# Spark 3.5 runs on Java 17, not on newer defaults.
JAVA17 ?= /usr/lib/jvm/java-17-openjdk-amd64

.PHONY: run test test-fast lint lock bench wheel pipeline calibrate peers

run:
	cargo run --release --locked -- generate

# The Terraform suite needs no build and spends much of its time waiting
# on the emulator: it starts as soon as the venv is in place, beside the
# test build. The suites that run the binary start once everything is
# built, side by side (compiling the Rust test binaries beside the Spark
# suite slowed it more than it gained). Each suite's output is printed
# whole when it ends. No test asserts a duration: timings are benchmarks
# (`make bench`). ALSO adds targets to the last group: .ci/run puts the
# Rust lint there, where the suites leave a core idle part of the time.
ALSO ?=
# The Terraform suite's access ledger runs the producer: it waits for
# BUILD_STAMP, which the test build writes when done (.failed if it failed).
BUILD_STAMP := target/debug/.tests-built
test:
	@rm -f $(BUILD_STAMP) $(BUILD_STAMP).failed
	$(MAKE) --no-print-directory -j3 --output-sync=target test-infra test-built WAIT_FOR_BUILD=$(BUILD_STAMP)

.PHONY: test-built test-build
test-built: test-build test-env
	$(MAKE) --no-print-directory -j5 --output-sync=target test-jobs test-readers test-rust test-deploy $(ALSO)

# Without make's jobserver, so cargo uses every core while pip downloads.
test-build:
	env -u MAKEFLAGS -u MFLAGS cargo test --locked --workspace --no-run && touch $(BUILD_STAMP) || \
		{ mkdir -p $(dir $(BUILD_STAMP)) && touch $(BUILD_STAMP).failed; exit 1; }

# The quick loop while editing: the Rust unit tests beside the fast Python
# tests of every suite (FAST_MARKERS), in one pytest run. The end-to-end
# tests/cli binary and the Spark, Terraform and container tests are left
# to `make test`.
test-fast: $(TESTKIT)
	$(MAKE) --no-print-directory -j2 $(PACKAGES) test-fast-build
	$(MAKE) --no-print-directory -j2 --output-sync=target test-fast-rust test-fast-python

.PHONY: test-fast-build test-fast-rust test-fast-python
# `wheel` again only when a file of the packages it installs changed.
PACKAGES := $(VENV)/.packages
PACKAGE_FILES := $(shell find jobs deploy schemas \( -path jobs/tests -o -path jobs/testkit -o -path jobs/dist \
	-o -path jobs/build -o -path deploy/tests -o -name __pycache__ \) -prune -o -type f -print)
$(PACKAGES): $(VENV)/.installed $(PACKAGE_FILES)
	$(MAKE) --no-print-directory wheel
	touch $@

test-fast-build:
	cargo build --locked

test-fast-rust:
	cargo test --locked --workspace --lib --bins

test-fast-python:
	@mkdir -p target/pytest
	MARKETPULSE_BIN=target/debug/marketpulse $(VENV)/bin/pytest -q --import-mode=importlib --basetemp=target/pytest/fast \
		-m "$(FAST_MARKERS)" $(PYTEST_ARGS) $(READERS) jobs/tests infra/tests $(wildcard deploy/tests)

.PHONY: test-env test-model test-rust test-readers test-jobs test-infra test-deploy

# podman for the container tests: installed from Debian when root, else
# those tests skip and say so.
test-env: $(TESTKIT) $(PACKAGES) $(VENV)/jars/.installed $(CHECKOV)/.installed
	@command -v podman >/dev/null || [ "$$(id -u)" != 0 ] || \
		(export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends podman buildah runc >/dev/null)

test-rust:
	cargo test --locked --workspace

# The capacity model's wall and CPU time against a timed local run: it
# holds only on a machine doing nothing else, so it runs with the
# benchmarks, never in `make test` (load-tests/results/model-check.md).
test-model:
	cargo test --locked --workspace --test cli -- --ignored --nocapture capacity::plan_predicts_the_wall

# A separate pytest base folder per suite: two sessions at once would
# prune each other's numbered temp folders. The jobs, deploy and infra
# suites run the installed packages: rebuilt when a file of theirs changed.
test-readers: $(TESTKIT)
	@mkdir -p target/pytest
	MARKETPULSE_BIN=target/debug/marketpulse $(VENV)/bin/pytest -q --basetemp=target/pytest/readers $(PYTEST_ARGS) $(READERS)

# The platform's Terraform against a local emulator (infra/tests); skips,
# saying why, where the machine lacks Terraform or its AWS provider mirror.
test-infra: $(TESTKIT) $(PACKAGES) $(CHECKOV)/.installed $(EVALUATOR)/node_modules/.installed
	@mkdir -p target/pytest
	MARKETPULSE_BUILD_STAMP=$(WAIT_FOR_BUILD) CHECKOV=$(CHECKOV)/bin/checkov \
		$(VENV)/bin/pytest -q -rs --basetemp=target/pytest/infra $(PYTEST_ARGS) infra/tests

test-jobs: $(TESTKIT) $(PACKAGES) $(VENV)/jars/.installed
	@mkdir -p target/pytest
	JAVA_HOME=$(JAVA17) MARKETPULSE_BIN=target/debug/marketpulse $(VENV)/bin/pytest -q --basetemp=target/pytest/jobs $(PYTEST_ARGS) jobs/tests

# deploy/tests: the fleet commands against moto, the EMR fan-out on the
# local Spark, and, with podman, the container image and Batch running it.
test-deploy: $(TESTKIT) $(PACKAGES) $(VENV)/jars/.installed
	@mkdir -p target/pytest
	JAVA_HOME=$(JAVA17) MARKETPULSE_BIN=target/debug/marketpulse $(VENV)/bin/pytest -q -rs --basetemp=target/pytest/deploy $(PYTEST_ARGS) deploy/tests

# The whole pipeline on a local lake: generate -> silver -> gold -> marts,
# then a one-screen report (pipeline/report.json). PIPELINE_DIR moves it.
PIPELINE_DIR ?= pipeline
pipeline: $(VENV)/.installed wheel
	cargo build --locked
	JAVA_HOME=$(JAVA17) MARKETPULSE_BIN=target/debug/marketpulse $(VENV)/bin/python -m marketpulse_local.pipeline --dir $(PIPELINE_DIR)

# The jobs package as EMR steps and Glue jobs take it: one wheel
# (jobs/dist), installed into the venv so the tests import what ships; with
# it the packages that never ship there: the local stand-ins and pipeline
# runner (jobs/local) and the fleet commands (deploy).
wheel: $(VENV)/.installed
	rm -rf jobs/dist
	$(VENV)/bin/pip wheel --quiet --disable-pip-version-check --no-deps -w jobs/dist ./jobs
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --force-reinstall jobs/dist/*.whl ./jobs/local ./deploy

lint: lint-rust lint-python

.PHONY: lint-rust lint-python
lint-rust:
	cargo fmt --all --check
	cargo clippy --locked --workspace --all-targets -- -D warnings

lint-python: $(VENV)/.installed
	$(VENV)/bin/ruff check producer/tests load-tests jobs deploy infra/tests
	$(VENV)/bin/sqlfluff lint --disable-progress-bar jobs/redshift/sql
	$(VENV)/bin/hadolint deploy/container/Containerfile deploy/container/Containerfile.build
	$(VENV)/bin/shellcheck deploy/*/*.sh

bench: $(TESTKIT)
	$(MAKE) --no-print-directory test-model
	cargo build --release --locked
	python3 load-tests/bench_producer.py --runs 5
	$(VENV)/bin/python load-tests/bench_sinks.py --runs 3
	python3 load-tests/bench_reliability.py --runs 5
	$(MAKE) wheel
	$(VENV)/bin/python load-tests/bench_silver.py --runs 3 --formats parquet
	$(VENV)/bin/python load-tests/bench_redshift.py --runs 5
	python3 load-tests/bench_rate_profile.py --runs 3

# Capacity: this machine's calibration (the compiled-in reference when run
# on the reference machine), and the peers side by side with their charts
# (load-tests/peers/README.md sets up their venv and tpchgen-cli).
# Each then rewrites the docs' measured parts (load-tests/write_docs.py);
# the second build compiles the new calibration in.
calibrate:
	cargo build --release --locked
	target/release/marketpulse calibrate --out load-tests/results/calibration.json
	cargo build --release --locked
	$(MAKE) --no-print-directory test-model
	python3 load-tests/write_docs.py

peers:
	cargo build --release --locked
	load-tests/peers/.venv/bin/python load-tests/peers/run.py
	python3 load-tests/write_docs.py

# hadoop-aws and the AWS SDK bundle for s3a://, which the pyspark wheel
# lacks and Maven cannot be reached for: PyPI's sagemaker-pyspark sdist
# carries both (docs/decisions/ADR-013-s3a-jars.md).
$(VENV)/jars/.installed: $(VENV)/.installed
	rm -rf $(VENV)/jars && mkdir -p $(VENV)/jars/dl
	$(VENV)/bin/pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
		sagemaker-pyspark==1.4.5 -d $(VENV)/jars/dl
	tar -xzf $(VENV)/jars/dl/sagemaker_pyspark-1.4.5.tar.gz -C $(VENV)/jars --strip-components 3 \
		sagemaker_pyspark-1.4.5/deps/jars/hadoop-aws-3.3.1.jar \
		sagemaker_pyspark-1.4.5/deps/jars/aws-java-sdk-bundle-1.11.901.jar
	rm -rf $(VENV)/jars/dl
	touch $@

$(EVALUATOR)/node_modules/.installed: $(EVALUATOR)/package-lock.json
	@command -v npm >/dev/null || [ "$$(id -u)" != 0 ] || \
		(export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nodejs npm >/dev/null)
	cd $(EVALUATOR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)/.installed: $(LOCK) | $(UV)/.installed
	@test -x $(JAVA17)/bin/java || [ "$$(id -u)" != 0 ] || \
		(apt-get update -q >/dev/null && apt-get install -y -q openjdk-17-jre-headless >/dev/null)
	@test -x $(JAVA17)/bin/java || (echo "Java 17 is missing at $(JAVA17): install openjdk-17-jre-headless (Spark 3.5 needs it)" >&2; exit 1)
	python3 -m venv $(VENV)
	$(UV)/bin/uv pip install --quiet --python $(VENV)/bin/python --require-hashes -r $(LOCK)
	touch $@

$(TESTKIT): $(VENV)/.installed jobs/testkit/pyproject.toml
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e jobs/testkit
	touch $@

# The lock: the requirement inputs (and the local packages' declared
# dependencies) compiled by uv, with hashes, for Python 3.11 on x86_64
# Linux. After editing an input, `make lock` pins what is new and keeps every
# other pin; `make lock LOCK_ARGS=--upgrade` moves all to the newest allowed.
lock: $(UV)/.installed
	$(UV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" \
		$(LOCK_ARGS) $(LOCK_INPUTS) -o $(LOCK)

$(UV)/.installed:
	python3 -m venv $(UV)
	$(UV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	touch $@

$(CHECKOV)/.installed: | $(UV)/.installed
	python3 -m venv --without-pip $(CHECKOV)
	$(UV)/bin/uv pip install --quiet --python $(CHECKOV)/bin/python checkov==$(CHECKOV_VERSION)
	touch $@
