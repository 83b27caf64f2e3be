# The two commands the README promises: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test codegen bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files make the install step rerun only when the project metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The ISO 15118-2 EXI codec of the test V2G PKI: only the EXICodec.jar of this package is used (its own
	# Python dependencies pin versions ours conflict with, hence --no-deps); it runs on java (17) through py4j.
	$(BIN)/python -m pip install --quiet --no-deps iso15118==0.31.2
	touch $@

run: $(VENV)/.installed
	$(BIN)/chargeplane serve

test: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench
	$(BIN)/mypy --strict src
	# Layering contracts (pyproject.toml [tool.importlinter]): sans-I/O cores, transport below, private repositories.
	$(BIN)/lint-imports
	$(BIN)/python scripts/codegen.py --check
	$(BIN)/python scripts/settings_doc.py --check
	$(BIN)/python scripts/conformance_doc.py --check
	# Three workers on two cores: much of the suite waits on loopback peers and timers rather than the CPU.
	# Tests marked serial (sized for one core to themselves) run alone afterwards.
	# worksteal: the longest tests come first (tests/conftest.py LONG_FIRST) and stay with the worker that has
	# them, the others take over its short ones when they run out, so that no worker finishes long after the rest.
	$(BIN)/pytest -n 3 --dist worksteal -m "not serial" --durations=25
	$(BIN)/pytest -m serial --durations=10
	# The sans-I/O RPC core must stay fully covered by its own unit tests (issue #2); measured on those alone,
	# since tracing the whole suite for coverage doubled the time of every CPU-bound test.
	$(BIN)/pytest -q tests/ocpp --ignore=tests/ocpp/messages --cov=chargeplane.ocpp --cov-report=
	$(BIN)/coverage report --show-missing --fail-under=100 \
		--include='src/chargeplane/ocpp/endpoint.py,src/chargeplane/ocpp/frames.py,src/chargeplane/ocpp/errors.py,src/chargeplane/ocpp/events.py,src/chargeplane/ocpp/router.py,src/chargeplane/ocpp/validation.py,src/chargeplane/ocpp/versions.py,src/chargeplane/ocpp/catalog.py,src/chargeplane/ocpp/timestamps.py'

# The generator pipes its output through ruff format itself; `--check` (run by `make test`) verifies.
codegen: $(VENV)/.installed-dev
	$(BIN)/python scripts/codegen.py

# End-to-end suite (issue #6): also reruns bench/codec.py and bench/transport.py; rewrites the
# "End-to-end (issue #6)" and "Transport" sections of bench/RESULTS.md. Then the scaling figures (issue #19:
# 1-3 nodes on NATS + PostgreSQL, serve --workers 1/2, beside the peer; "Scaling" section, about 3 min).
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/e2e.py
	$(BIN)/python bench/scaling.py
	$(BIN)/python bench/plots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
