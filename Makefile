# Two entry points for a newcomer: `make run` and `make test`. Everything they need is set up here.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENDOR := src/custos/console/static/vendor
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run test setup assets lint test-sqlite test-postgres test-browser bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	touch $@

setup: $(BIN)/.installed $(VENDOR)/.installed

assets: $(VENDOR)/.installed

run: setup
	$(BIN)/custos migrate
	$(BIN)/custos demo --if-empty
	CUSTOS_DEMO_WECOM_STUB=1 $(BIN)/custos serve --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check src tests bench scripts/merge-translations

test: setup
	scripts/ensure-chromium
	$(BIN)/ruff check src tests bench scripts/merge-translations
	$(BIN)/custos check --fail-level WARNING
	$(BIN)/pytest -q -n 2 tests
	CUSTOS_TEST_DATABASE=postgres CUSTOS_TEST_DATABASE_URL=$${CUSTOS_TEST_DATABASE_URL:-$(PG_URL)} $(BIN)/pytest -q -n 2 tests

bench: setup
	$(BIN)/python -m bench.ledger

clean:
	rm -rf $(VENV) node_modules $(VENDOR)
