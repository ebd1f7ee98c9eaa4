# Every target sets up what it needs: a fresh machine only needs python3 (3.11+) and Redis.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration schemas bench eval clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: embedded broker + worker + sample chats, escalations shown live as they reach Redis
demo: $(STAMP)
	$(BIN)/escalator demo

## test: lint, type-check, then the whole suite (unit + real broker + real Redis)
test: $(STAMP) lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

## bench: decision-core throughput on one core, with baselines measured in the same run
bench: $(STAMP)
	$(BIN)/python -m benchmarks.decision_core

## eval: measure decisions on the labelled public data next to the checkout
eval: $(STAMP)
	$(BIN)/escalator eval --data ../shared/eval-data

## schemas: regenerate schemas/json from the pydantic models
schemas: $(STAMP)
	$(BIN)/escalator schemas

clean:
	rm -rf $(VENV) .escalator .mypy_cache .ruff_cache .pytest_cache .hypothesis
