# `make run` and `make test` work on a fresh machine: they create .venv and install first,
# at the versions in constraints.txt (the tested ones; `make constraints` refreshes them).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP := --quiet --disable-pip-version-check
FRESH := .venv-constraints

.PHONY: install run test lint bench clean constraints

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP) -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/trainbot serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

# The newest versions pyproject.toml allows, installed into a throwaway venv and frozen
# (the comment block at the top of constraints.txt is kept). Then `make clean test`.
constraints:
	rm -rf $(FRESH)
	$(PYTHON) -m venv $(FRESH)
	$(FRESH)/bin/pip install $(PIP) -e '.[test]'
	grep '^#' constraints.txt > $(FRESH)/constraints.txt
	$(FRESH)/bin/pip freeze --exclude-editable >> $(FRESH)/constraints.txt
	mv $(FRESH)/constraints.txt constraints.txt
	rm -rf $(FRESH)

clean:
	rm -rf $(VENV) $(FRESH) .pytest_cache .ruff_cache .mypy_cache test-artifacts
