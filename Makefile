# One-command entry points for a fresh machine with Python 3.11 (creates .venv on first use).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run simulate dashboard test lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) (set PY=python3 if that is 3.11+)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Main job: the strategy comparison on the default scenario, then the dashboard on its results.
run: $(STAMP)
	$(BIN)/dom simulate scenarios/default.yaml
	$(BIN)/streamlit run app.py --server.headless true

simulate: $(STAMP)
	$(BIN)/dom simulate scenarios/default.yaml

dashboard: $(STAMP)
	$(BIN)/streamlit run app.py --server.headless true

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy dom_core sim

test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2

bench: $(STAMP)
	$(BIN)/python bench/bench_sourcing.py

clean:
	rm -rf $(VENV) results .pytest_cache .mypy_cache .ruff_cache
