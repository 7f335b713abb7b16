# `make run` serves Duban on the embedded default, `make test` runs the suite, `make bench` runs the
# benchmarks (docs/BENCHMARKS.md). All bootstrap .venv and node_modules themselves (re-installing
# only when pyproject.toml or package-lock.json change). The web pages load bpmn-js, dmn-js and
# ECharts from node_modules through the app's own /vendor route: no CDN.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PANEL := node_modules/.duban/designer-panel.js
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: setup run demo test bench soak

# The first run installs for a few minutes: each step says what it does, pip shows its progress.
$(STAMP): pyproject.toml
	@echo "==> 1/3 creating the Python environment in $(VENV)"
	python3 -m venv $(VENV)
	@echo "==> 2/3 installing Duban and its Python dependencies (a few minutes the first time)"
	$(PYTHON) -m pip install --upgrade --progress-bar on pip
	$(PYTHON) -m pip install --progress-bar on -e '.[test]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@echo "==> 3/3 installing the web pages' scripts (bpmn-js, dmn-js, ECharts) into node_modules"
	npm ci --no-audit --no-fund --progress=true
	touch $(NODE_STAMP)

# The designer's properties panel, bundled by esbuild (a devDependency) from api/web/static_src/
# into node_modules/.duban/ (served at /vendor/duban/, api/web/assets.py): rebuilt after every
# npm ci and whenever its source changes. Not committed: it follows the locked packages.
$(PANEL): $(NODE_STAMP) $(wildcard api/web/static_src/*.js)
	npm run build

setup: $(STAMP) $(NODE_STAMP) $(PANEL)

run: setup
	@echo "==> initialising the database and deploying the processes"
	$(VENV)/bin/duban init
	@echo "==> starting the service (it prints its address; stop it with Ctrl-C)"
	$(VENV)/bin/duban serve

# A demonstration organisation with items in every state (README: see the system alive).
demo: setup
	$(VENV)/bin/duban demo

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
