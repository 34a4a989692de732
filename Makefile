# envoykit — two commands matter: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration bench bench-deps docs dist clean

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
	$(VENV)/bin/mypy --strict envoykit tests/typing

test: lint typecheck
	$(PY) -m pytest -n 2 tests

unit: $(STAMP)
	$(PY) -m pytest tests/unit

bench: $(STAMP) bench-deps
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# nginx, wrk and h2load for bench/dataplane.py (Debian; skipped when not root)
bench-deps:
	@command -v wrk >/dev/null && command -v nginx >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && { apt-get install -y -q nginx wrk nghttp2-client >/dev/null || \
	    { apt-get update -q >/dev/null && apt-get install -y -q nginx wrk nghttp2-client >/dev/null; }; }; } || \
	  echo "bench-deps: nginx/wrk missing; bench/dataplane.py will skip them"

DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# a wheel in dist/ (envoykit is not on PyPI yet: `pip install dist/envoykit-*.whl`)
dist: $(STAMP)
	$(PY) -m pip wheel -q --no-deps -w dist .

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
