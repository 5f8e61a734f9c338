# One-command entry points for a fresh machine with Python 3.11 (creates .venv on first use).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup compiled run simulate dashboard serve test lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) (set PY=python3 if that is 3.11+)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: compiled

# The hot modules compiled with Cython (tools/build_compiled.py): a no-op while the build matches the
# sources; without a C compiler the pure-Python sources run, with the same results, more slowly.
compiled: $(STAMP)
	@$(BIN)/python tools/build_compiled.py \
		|| echo "warning: no compiled build; the pure-Python sources run (same results, slower)"

# Main job: the strategy comparison on the default scenario, then the dashboard on its results.
run: compiled
	$(BIN)/dom simulate scenarios/default.yaml
	$(BIN)/streamlit run app.py --server.headless true

simulate: compiled
	$(BIN)/dom simulate scenarios/default.yaml

# The live service on SQLite (dom.db) with the default network; DOM_API_KEYS=key:write sets its key.
serve: compiled
	$(BIN)/dom serve scenarios/default.yaml --db sqlite:///dom.db

dashboard: $(STAMP)
	$(BIN)/streamlit run app.py --server.headless true

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy dom_core sim service tools retail

test: compiled lint
	$(BIN)/python -m pytest -n 2

bench: compiled
	$(BIN)/python bench/bench_sourcing.py

clean:
	rm -rf $(VENV) .compiled results .pytest_cache .mypy_cache .ruff_cache
