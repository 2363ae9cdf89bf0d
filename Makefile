# The two commands: `make run` (set up everything, start the marketplace) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | sha1sum | cut -c1-12)
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_ARGS ?=

.PHONY: run test lint setup install bench eval clean

run: setup
	$(BIN)/market serve --host $(HOST) --port $(PORT)

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@if [ -n "$$PG_TEST_URL" ]; then \
		echo "== the same suite on PostgreSQL =="; \
		TEST_DATABASE_URL="$$PG_TEST_URL" $(BIN)/python -m pytest $(PYTEST_ARGS); \
	fi

# formatting and lint rules (pyproject.toml), and which package may import which (setup.cfg)
lint: install
	$(BIN)/ruff format --check --quiet .
	$(BIN)/ruff check --quiet .
	$(BIN)/lint-imports

# database, taxonomies, demo data, converted model and indexes; safe to repeat
setup: install
	$(BIN)/market setup --demo

install: $(STAMP)

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[convert,test]'
	rm -f $(VENV)/.installed-*
	touch $@

clean:
	rm -rf $(VENV) data/var
