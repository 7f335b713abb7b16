# `make run` serves Duban on the embedded default, `make test` runs the suite, `make bench` runs the
# benchmarks (docs/BENCHMARKS.md). All bootstrap .venv and node_modules themselves (re-installing
# only when pyproject.toml or package-lock.json change). The web pages load bpmn-js, dmn-js and
# ECharts from node_modules through the app's own /vendor route: no CDN.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: setup run test bench soak

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

setup: $(STAMP) $(NODE_STAMP)

run: setup
	$(VENV)/bin/duban init
	$(VENV)/bin/duban serve

# The suite runs in TEST_WORKERS processes (pytest-xdist; `make test TEST_WORKERS=0` runs it in
# one): most tests wait on PostgreSQL, subprocesses or the browser, so two share two cores well.
TEST_WORKERS ?= 2

test: setup
	$(PYTHON) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

$(BENCH_STAMP): $(STAMP)
	$(PYTHON) -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

# BENCH_ARGS: e.g. --quick, --scale 0.1, --only engine,http (python -m bench --help)
bench: $(BENCH_STAMP)
	$(PYTHON) -m bench $(BENCH_ARGS)

# Load without loss (docs/BENCHMARKS.md): 16 clients, 2 serve processes, a worker killed twice.
# SOAK_ARGS: e.g. --clients 8 --register-weeks 2 (python -m bench.soak --help)
soak: setup
	$(PYTHON) -m bench.soak $(SOAK_ARGS)
