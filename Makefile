# camtrack: `make demo` runs the whole system on one host, `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
REQS := requirements/base.txt requirements/dev.txt requirements/production.txt

.PHONY: install demo test lint format bench bench-decode faultcheck clean

install: $(STAMP) $(NODE_STAMP)

$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@sh scripts/system-packages.sh
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.txt -r requirements/production.txt
	@touch $(STAMP)

# The console's browser assets (a charting library) from the npm registry, as package-lock.json pins them.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || sh scripts/system-packages.sh npm
	npm ci --no-audit --no-fund --omit=dev --loglevel error
	@touch $(NODE_STAMP)

demo: install
	$(PY) -m devtools.launcher demo

test: install
	@sh scripts/system-packages.sh browser
	$(PY) -m devtools.launcher test $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Needs DATABASE_URL and CELERY_BROKER_URL (PostgreSQL and Redis), e.g.
#   DATABASE_URL=postgres://postgres@127.0.0.1/camtrack_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/1 make bench
bench: install
	$(PY) manage.py migrate -v 0
	$(PY) manage.py bench $(or $(BENCH_ARGS),--cameras 1000 --interval 5 --duration 60 --steps 0.5,1,1.5,2)

faultcheck: install
	$(PY) manage.py migrate -v 0
	$(PY) manage.py faultcheck --duration 45 --io-threads 4

bench-decode: install
	$(PY) manage.py bench_decode $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data node_modules
