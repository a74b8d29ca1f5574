# Haven's one-word commands. `make serve` and `make test` work on a fresh Debian/Ubuntu machine:
# they make the virtualenv and install what they need themselves.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AXE_VERSION := 4.11.0

.DEFAULT_GOAL := help
.PHONY: help serve test lint format bench i18n export docs clean

help: ## List the commands
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/.runtime: pyproject.toml
	@scripts/ensure-python $(PYTHON) $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(BIN)/.dev: pyproject.toml $(BIN)/.runtime
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,surge]'
	@touch $@

$(VENV)/npm/node_modules/axe-core/axe.min.js:
	@scripts/ensure-system-deps node
	npm install --silent --no-audit --no-fund --prefix $(VENV)/npm axe-core@$(AXE_VERSION)

serve: $(BIN)/.runtime ## Set up, prepare the SQLite database and serve on http://127.0.0.1:8000
	$(BIN)/haven migrate
	$(BIN)/haven serve

test: $(BIN)/.dev $(VENV)/npm/node_modules/axe-core/axe.min.js ## Set up and run the whole test suite
	@scripts/ensure-system-deps nginx wrk chromium postgresql redis-server redis-sentinel haproxy pgbouncer ip promtool systemd-analyze systemd-sysusers
	$(BIN)/pytest

lint: $(BIN)/.dev ## ruff and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/.dev ## Format the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/.dev ## Benchmarks; figures go to bench/results/
	@scripts/ensure-system-deps nginx wrk postgresql redis-server redis-sentinel haproxy pgbouncer ip
	$(BIN)/python -m bench

i18n: $(BIN)/.dev ## Extract UI strings and update the French catalog
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output --omit-header -o haven/locales/messages.pot .
	$(BIN)/pybabel -q update -i haven/locales/messages.pot -d haven/locales -D messages --width 100 --ignore-obsolete --no-fuzzy-matching

export: $(BIN)/.runtime ## Write the static site to var/site
	$(BIN)/haven export-static var/site

docs: $(BIN)/.runtime ## Regenerate the README's settings table from haven/settings.py
	$(BIN)/python -m haven.settings_doc README.md

clean: ## Remove the virtualenv and caches (keeps var/, which holds your data)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
