# The two commands: `make run` serves Duban on the embedded default, `make test` runs the suite.
# Both bootstrap .venv themselves (re-installing only when pyproject.toml changes).
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup run test

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
