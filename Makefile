# envoykit — two commands matter: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m envoykit.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check envoykit tests examples bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict envoykit

test: lint typecheck
	$(PY) -m pytest -n 2 tests

unit: $(STAMP)
	$(PY) -m pytest tests/unit

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
