# Every target sets up what it needs: a fresh machine only needs python3 (3.11+), make and
# Debian's packages (or a running Redis at REDIS_URL for the demo and the bench).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian's packages are installed as root, through sudo otherwise.
APT_GET := $(if $(filter 0,$(shell id -u)),,sudo) apt-get
# $(call debian,COMMAND,PACKAGE): install PACKAGE unless COMMAND is on the PATH.
debian = command -v $(1) >/dev/null || ($(APT_GET) update && $(APT_GET) install -y --no-install-recommends $(2))

.PHONY: demo demo-kafka test tools redis lint typecheck unit integration schemas bench profile eval models clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: embedded broker + worker + sample chats, escalations shown live as they reach Redis
demo: $(STAMP) redis
	$(BIN)/escalator demo

## demo-kafka: the same demo on a single-node Apache Kafka (jars from Maven Central, once)
demo-kafka: $(STAMP) redis
	@$(call debian,java,openjdk-17-jre-headless)
	@$(call debian,mvn,maven)
	$(BIN)/escalator demo --broker kafka

## test: lint, type-check, then the whole suite (unit + real broker + real Redis)
test: $(STAMP) tools lint typecheck
	$(BIN)/pytest

## tools: what the suite drives besides Python, from Debian's packages when missing:
## redis-server (the suite starts its own on free ports), Java and Maven (the suite assembles
## Apache Kafka from Maven Central and runs it), Chromium (the live board's browser tests) and
## promtool (the alert rules' tests)
tools:
	@$(call debian,redis-server,redis-server)
	@$(call debian,java,openjdk-17-jre-headless)
	@$(call debian,mvn,maven)
	@$(call debian,chromium,chromium)
	@$(call debian,promtool,prometheus)

## redis: Debian's redis-server for the demo and the bench (they start a private one when no
## Redis answers at REDIS_URL), unless it is installed or a Redis answers there
redis: $(STAMP)
	@$(BIN)/python -m workers.services || $(call debian,redis-server,redis-server)

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
bench: $(STAMP) redis
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

## profile: the full-pipeline throughput run under py-spy; the top functions by self time
profile: $(STAMP) redis
	$(BIN)/python -m benchmarks.run --only throughput --runs 1 --profile $(BENCH_ARGS)

## eval: measure decisions on the labelled public data next to the checkout
eval: $(STAMP)
	$(BIN)/escalator eval --data ../shared/eval-data

## models: retrain the shipped text models from ../shared (byte-identical for the same data)
models: $(STAMP)
	$(BIN)/python tools/train_models.py --train-data ../shared/train-data \
		--eval-data ../shared/eval-data --out workers/decision/models

## schemas: regenerate schemas/json from the pydantic models
schemas: $(STAMP)
	$(BIN)/escalator schemas

clean:
	rm -rf $(VENV) .escalator .mypy_cache .ruff_cache .pytest_cache .hypothesis
