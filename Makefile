# Two entry points (README): `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app
HOST   ?= 127.0.0.1
PORT   ?= 5000
SIM_PORT ?= 5001
# A local PostgreSQL server for the second test run; override or empty it to skip.
GATEWAY_TEST_DATABASE_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql://postgres@127.0.0.1:5432/postgres)

.PHONY: run test check test-sqlite test-postgres install clean bench sim worker jobs

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

# The site and the stand-in are started and stopped together by gateway/cli/demo_run.py; exec
# makes it the recipe's own process (no shell between), so Ctrl-C or a SIGTERM to make
# reaches it, and it exits 0 once both are gone: make prints no error line.
run: install
	$(BIN)/python -m gateway.ops.init_instance
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-new
	@echo "Tollgate on http://$(HOST):$(PORT)/ ; PayPal stand-in on http://$(HOST):$(SIM_PORT)/sim/  (Ctrl-C stops both)"
	@exec $(BIN)/python -m gateway.cli.demo_run --host $(HOST) --port $(PORT) --sim-port $(SIM_PORT)

test: install check test-sqlite test-postgres

# Style and types: ruff (lint + format) and mypy (strict on gateway/billing and models).
check: install
	@echo "== ruff and mypy"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test-sqlite: install
	@echo "== SQLite"
	GATEWAY_TEST_DATABASE_URL= $(BIN)/pytest -q

test-postgres: install
	@if [ -n "$(GATEWAY_TEST_DATABASE_URL)" ]; then \
	  echo "== PostgreSQL: $(GATEWAY_TEST_DATABASE_URL)"; \
	  GATEWAY_TEST_DATABASE_URL="$(GATEWAY_TEST_DATABASE_URL)" $(BIN)/pytest -q; \
	else echo "== PostgreSQL tests skipped: no server (set GATEWAY_TEST_DATABASE_URL)"; \
	  [ -z "$(REQUIRE_POSTGRES)" ] || { echo "REQUIRE_POSTGRES is set: failing"; exit 1; }; fi

# The benchmark suite: every script runs (quick sizes unless FULL=1), each prints its
# figures against a baseline of the same run, and the target fails `make bench` if any
# script reports a missed target.
QUICK := $(if $(FULL),,--quick)
# rebuild replays ~2,700 messages/s here: 100,000 for the quick suite, 1,000,000 with FULL=1.
REBUILD := $(QUICK)
bench: install
	@command -v wrk >/dev/null || { echo "the benchmarks need wrk (apt-get install wrk)"; exit 1; }
	@failed=""; \
	for script in "gate_and_inbox.py" "gate.py" "forward_auth.py" "rules.py" "processing.py" "forged_flood.py" "activity_import.py" \
	              "admin_scale.py $(QUICK)" "dashboard_scale.py $(QUICK)" "export_jobs.py $(QUICK)" \
	              "rebuild.py $(REBUILD)" "side_by_side.py $(QUICK)" "big_file.py"; do \
	  echo "== bench/$$script"; \
	  $(BIN)/python bench/$$script || failed="$$failed $$script;"; \
	done; \
	if [ -n "$$failed" ]; then echo "targets missed or errors in:$$failed"; exit 1; fi

sim: install
	$(BIN)/flask --app paypal_sim run --host $(HOST) --port $(SIM_PORT)

worker: install
	$(FLASK) inbox process --loop

jobs: install
	$(FLASK) jobs run

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
