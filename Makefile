# songscape — two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.songscape-installed
PYTEST_WORKERS ?= 2

.PHONY: setup test demo lint bench figures clean

setup: $(STAMP)

# Re-run the install when the dependency list or the setup script changes.
$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh "$(VENV)"
	@touch $(STAMP)

test: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadgroup tests

demo: setup
	bash scripts/demo.sh "$(VENV)"

lint: setup
	$(VENV)/bin/ruff check src tests bench

bench: setup
	$(VENV)/bin/pip install -q -e ".[dev,bench]"
	$(PY) bench/ingest.py
	$(PY) bench/descriptors.py
	$(PY) bench/embed.py
	$(PY) bench/probe.py --plot docs/img
	$(PY) bench/coldstart.py
	$(PY) bench/recs.py
	$(PY) bench/search.py --quick
	$(PY) bench/sing.py
	$(PY) bench/figures.py

# Re-render the figure tables of README.md and docs/ from bench/results/*.json.
figures: setup
	$(PY) bench/figures.py

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache src/*.egg-info
