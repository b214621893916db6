# The two commands of the README: `make run` (PORT=8000 by default) and `make test`.
PYTHON ?= python3
PORT ?= 8000
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint venv fuzz

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
