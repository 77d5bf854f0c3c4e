# camtrack: `make demo` runs the whole system on one host, `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQS := requirements/base.txt requirements/dev.txt requirements/production.txt

.PHONY: install demo test lint format bench bench-decode clean

install: $(STAMP)

$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@sh scripts/system-packages.sh
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.txt -r requirements/production.txt
	@touch $(STAMP)

demo: install
	$(PY) -m camtrack.launcher demo

test: install
	$(PY) -m camtrack.launcher test $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) manage.py bench $(BENCH_ARGS)

bench-decode: install
	$(PY) manage.py bench_decode $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data
