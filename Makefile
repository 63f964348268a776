# kgtwin developer commands. Prerequisites: Python 3.11+, Java 17+, Maven; Node.js 18+ and npm for the tests.
PYTHON ?= python3
SIZES  ?= 10k,100k,1m
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install demo test test-fast lint bench-load bench-query bench-ingest bench-whatif bench-brick bench-scale neo4j-stop questdb-stop clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kgtwin needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install kgtwin with its test and dev tools

demo: install ## the whole twin: local Neo4j, MQTT broker, example site, simulated telemetry, API (Ctrl-C stops all)
	$(BIN)/kgtwin demo

test: install ## start the services the tests need and run the whole suite
	$(BIN)/pytest

# The markers tests/conftest.py gives a test that needs a service (see pyproject.toml).
NO_SERVICES := not neo4j and not mqtt and not questdb and not node and not browser and not docker

test-fast: install ## the tests that need no service (Neo4j, QuestDB, broker, Node.js, browser), in under a minute
	$(BIN)/pytest -m "$(NO_SERVICES)" --hypothesis-profile=fast

lint: install ## ruff format check, ruff check and mypy
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# The newest paho-mqtt goes into a folder of its own, ahead of .venv's on PYTHONPATH (no second
# venv to build). PAHO='paho-mqtt==X.Y.Z' tries another release the same way.
.PHONY: test-paho-latest
PAHO ?= paho-mqtt
PAHO_LATEST := $(VENV)/paho-latest
test-paho-latest: install ## tests/ingest on the newest paho-mqtt from PyPI, if .venv has another
	rm -rf $(PAHO_LATEST)
	$(BIN)/pip install --quiet --no-deps --target $(PAHO_LATEST) '$(PAHO)'
	@ours=$$($(BIN)/python -c 'import paho.mqtt; print(paho.mqtt.__version__)'); \
	got=$$(PYTHONPATH=$(PAHO_LATEST) $(BIN)/python -c 'import paho.mqtt; print(paho.mqtt.__version__)'); \
	if [ "$$got" = "$$ours" ]; then \
		echo "$(PAHO) from PyPI is paho-mqtt $$got, .venv's own: make test covers it"; \
	else \
		echo "tests/ingest on paho-mqtt $$got (.venv has $$ours)"; \
		PYTHONPATH=$(PAHO_LATEST) $(BIN)/pytest tests/ingest; \
	fi

bench-load: install ## the load benchmark (100k synthetic assets)
	$(BIN)/python bench/load.py

bench-query: install ## API latency against raw Cypher (100k synthetic assets)
	$(BIN)/python bench/query.py

bench-ingest: install ## MQTT ingestion throughput and freshness against one statement per message
	$(BIN)/python bench/ingest.py

bench-whatif: install ## what-if speed against Cypher and networkx (100k synthetic assets)
	$(BIN)/python bench/whatif.py

bench-brick: install ## Brick 1.5 shapes over a 5,000-entity Brick building against pySHACL alone
	$(BIN)/python bench/brick_validate.py

bench-scale: install ## every measure at 10k, 100k and 1M assets, growth 100k -> 1M, goals at 1M (long; SIZES=10k for one size)
	$(BIN)/python bench/scale.py --sizes $(SIZES)

neo4j-stop: ## stop the local Neo4j
	$(BIN)/kgtwin neo4j stop

questdb-stop: ## stop the local QuestDB
	$(BIN)/kgtwin questdb stop

clean: ## remove the virtualenv (keeps .kgtwin/: the downloaded Neo4j and QuestDB, their data)
	rm -rf $(VENV)
