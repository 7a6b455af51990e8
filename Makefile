# The two set-up commands of the README: `make run` and `make test`.
# Each prepares what it needs on a fresh machine (a virtualenv, the Python
# packages, and for the tests the Debian packages the tests open outputs with).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test bench translations system-deps

# gunicorn, one process per core, plus one background process for the job and webhook
# runners (app/serve). PORT changes the port; TOUCHPOINT_ENV=production checks the settings.
run: $(VENV)/.installed
	$(BIN)/python -m app.serve

test: $(VENV)/.installed system-deps
	$(BIN)/ruff check app tests bench
	$(BIN)/lint-imports
	$(BIN)/flask --app app lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python -m bench

# After changing a translatable text: extract, update the catalogues, list what is left.
translations: $(VENV)/.installed
	scripts/update-translations

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

system-deps:
	scripts/system-deps
