# Every target sets up what it needs: a fresh machine only needs python3 (3.11+) and Redis.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test tools lint typecheck unit integration schemas bench profile eval clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: embedded broker + worker + sample chats, escalations shown live as they reach Redis
demo: $(STAMP)
	$(BIN)/escalator demo

## test: lint, type-check, then the whole suite (unit + real broker + real Redis)
test: $(STAMP) tools lint typecheck
	$(BIN)/pytest

## tools: what the suite drives besides Python, from Debian's packages when missing:
## Chromium (the live board's browser tests) and promtool (the alert rules' tests)
tools:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)
	@command -v promtool >/dev/null || (apt-get update && apt-get install -y --no-install-recommends prometheus)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

## bench: the worker beside its baselines in one run (throughput, latency, memory, recovery,
## decision core); BENCH_ARGS passes options, e.g. BENCH_ARGS="--quick" or "--sessions 10000"
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

## profile: the full-pipeline throughput run under py-spy; the top functions by self time
profile: $(STAMP)
	$(BIN)/python -m benchmarks.run --only throughput --runs 1 --profile $(BENCH_ARGS)

## eval: measure decisions on the labelled public data next to the checkout
eval: $(STAMP)
	$(BIN)/escalator eval --data ../shared/eval-data

## schemas: regenerate schemas/json from the pydantic models
schemas: $(STAMP)
	$(BIN)/escalator schemas

clean:
	rm -rf $(VENV) .escalator .mypy_cache .ruff_cache .pytest_cache .hypothesis
