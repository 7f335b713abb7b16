# `make run` serves Duban on the embedded default, `make test` runs the suite, `make bench` runs the
# benchmarks (docs/BENCHMARKS.md). All bootstrap .venv themselves (re-installing only when
# pyproject.toml changes).
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: setup run test bench

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(VENV)/bin/duban init
	$(VENV)/bin/duban serve

test: setup
	$(PYTHON) -m pytest $(PYTEST_ARGS)

$(BENCH_STAMP): $(STAMP)
	$(PYTHON) -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

# BENCH_ARGS: e.g. --quick, --scale 0.1, --only engine,http (python -m bench --help)
bench: $(BENCH_STAMP)
	$(PYTHON) -m bench $(BENCH_ARGS)
