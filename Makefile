# The two commands of the README: `make run` (PORT=8000 by default) and `make test`.
PYTHON ?= python3
PORT ?= 8000
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint venv fuzz bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(BIN)/punchgate demo --host 127.0.0.1 --port $(PORT)

test: venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Property and fuzz tests with many more cases (HYPOTHESIS_MAX_EXAMPLES, default 2000 per
# test) and fresh seeds; not part of CI.
fuzz: venv
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/test_properties.py -q \
		--hypothesis-show-statistics $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The quick benchmark set on SQLite (under 5 minutes); benchmarks/README.md has the rest.
bench: venv
	$(BIN)/python -m benchmarks.setup_request --seconds 5
	$(BIN)/python -m benchmarks.setup_bound --seconds 3
	$(BIN)/python -m benchmarks.order_request --repeat 3
	$(BIN)/python -m benchmarks.oci_call --seconds 5
	$(BIN)/python -m benchmarks.outbox_delivery --messages 300
	$(BIN)/python -m benchmarks.storefront --products 20000 --seconds 3
	$(BIN)/python -m benchmarks.profile_setup --requests 300 --warmup 1200 --top 0
