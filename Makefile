# envoykit — two commands matter: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration bench bench-deps mutation loaded docs dist clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@# tmux drives the terminal test of `envoykit top`; it must not be skipped silently
	command -v tmux >/dev/null || apt-get install -y -q tmux >/dev/null || \
	  { apt-get update -q >/dev/null && apt-get install -y -q tmux >/dev/null; }
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m envoykit.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check envoykit tests examples bench
	$(PY) scripts/unasync.py --check

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict envoykit tests/typing

test: lint typecheck
	$(PY) -m pytest -n 2 tests

unit: $(STAMP)
	$(PY) -m pytest tests/unit

bench: $(STAMP) bench-deps
	@mkdir -p .bench; failed=""; for b in bench/*.py; do case "$$(basename $$b)" in _*) continue;; esac; \
	  out=.bench/$$(basename $$b .py).txt; echo "== $$b"; \
	  { $(PY) $$b; echo $$? > $$out.rc; } 2>&1 | tee $$out; \
	  [ "$$(cat $$out.rc)" = 0 ] || failed="$$failed $$b"; done; \
	  echo "== summary (each bench's target_met)"; $(PY) scripts/bench_summary.py .bench/*.txt; \
	  if [ -n "$$failed" ]; then echo "== could not measure:$$failed" >&2; exit 1; fi

# nginx, wrk and h2load for bench/dataplane.py (Debian packages; installing needs root)
bench-deps:
	@command -v wrk >/dev/null && command -v nginx >/dev/null && command -v h2load >/dev/null || \
	  { [ "$$(id -u)" = 0 ] || { echo "bench-deps: wrk/nginx/h2load missing; run 'make bench-deps' as root" >&2; exit 1; }; \
	    apt-get install -y -q nginx wrk nghttp2-client >/dev/null || \
	    { apt-get update -q >/dev/null && apt-get install -y -q nginx wrk nghttp2-client >/dev/null; }; }

# mutants of the pure modules ([tool.mutmut] in pyproject.toml) against the unit tests;
# the per-module score table goes to docs/quality.md (exit 1 under 85 %)
mutation: $(STAMP)
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children 2 >/dev/null
	$(PY) scripts/mutation_score.py

# the suite 5 times in a row beside two busy processes (docs/quality.md); logs in loaded-run*.log
loaded: $(STAMP)
	scripts/loaded_suite.sh 5

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
	rm -rf $(VENV) build dist mutants .mypy_cache .ruff_cache .pytest_cache
