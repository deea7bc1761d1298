# auditlab: two commands from a fresh machine.
#   make demo  -> creates .venv, installs, runs the main job on the bundled sample
#   make test  -> creates .venv if missing, installs, runs the whole test suite
PY ?= python3
# Extras installed into .venv: the browser and Spark differential tests run in make test (and CI).
EXTRAS ?= dev,browser,spark
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE := data/samples/portal_audit_export.zip

.PHONY: demo test lab lint bench samples clean docs notebooks

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/auditlab info $(SAMPLE)
	$(BIN)/auditlab investigate $(SAMPLE) --out out/report.html --overwrite

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax tests auditlab notebooks

# Re-run every notebook in place (refreshes the outputs that nbval checks; commit them).
notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.record_timing=False --ExecutePreprocessor.store_widget_state=False notebooks/*.ipynb

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Every benchmark at 1M and 10M events (BENCH_EVENTS=100000 for a quick run; BENCH_DATA=DIR for the
# generated inputs, default bench/_data) -> docs/benchmarks.md. Not part of make test.
bench: $(STAMP)
	$(BIN)/python bench/run.py

samples: $(STAMP)
	$(BIN)/auditlab samples --out data/samples --seed 7 --days 30

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

# Regenerate docs/cli.md from the commands' --help (a test checks it is current).
docs: $(STAMP)
	$(BIN)/python scripts/cli_docs.py
