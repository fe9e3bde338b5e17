# Two commands do all set-up on a fresh machine: `make run` and `make test`. Both install into .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast lint format server server-stop

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/qcflow screen --out results.json

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

# The domain tests alone, without the slow ones: no Prefect API, no flows (tests/test_layers.py checks they import no
# Prefect).
FAST_TESTS := tests/broker tests/classical tests/climate tests/materials tests/quantum tests/test_layers.py

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow" $(FAST_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

server: $(STAMP)
	scripts/server.sh

server-stop:
	scripts/server.sh stop
