# The two commands: `make run` serves Duban on the embedded default, `make test` runs the suite.
# Both bootstrap .venv and node_modules themselves (re-installing only when pyproject.toml or
# package-lock.json change). The web pages load bpmn-js, dmn-js and ECharts from node_modules through
# the app's own /vendor route: no CDN, nothing fetched by the browser from outside.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: setup run test

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

test: setup
	$(PYTHON) -m pytest $(PYTEST_ARGS)
