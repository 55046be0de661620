# LocalBazaar. The two commands a newcomer needs:
#   make run    set up and run the site with demo data on SQLite (no Redis needed)
#   make test   set up and run the whole test suite (PostgreSQL and Redis when they answer)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
B ?=
PG_URL ?= postgresql://postgres@127.0.0.1:5432/localbazaar
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test lint format bench assets messages compilemessages migrate demo venv venv-dev chromium wrk clean help

help:
	@echo "make run    - set up and run the site with demo data at http://$(HOST):$(PORT)"
	@echo "make test   - set up and run the whole test suite (CI=true demands PostgreSQL and Redis)"
	@echo "make bench  - run every benchmark (B=web for one)"
	@echo "make lint   - ruff and the import-layer contract"

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check --upgrade pip
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.runtime
venv-dev: $(VENV)/.dev

# CSS (Pico) and htmx come from the npm registry, pinned in package.json/package-lock.json.
static/vendor/.stamp: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: installing Node.js and npm with apt-get"; \
	  (apt-get update -qq && apt-get install -y -qq nodejs npm) || sudo sh -c 'apt-get update -qq && apt-get install -y -qq nodejs npm'; }
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor/pico static/vendor/htmx
	cp node_modules/@picocss/pico/css/pico.min.css static/vendor/pico/
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx/
	touch $@

assets: static/vendor/.stamp

compilemessages: venv
	$(VENV)/bin/pybabel compile --use-fuzzy -d locale -D django --statistics 2>&1 | tail -n 3

messages: venv-dev
	$(PY) manage.py makemessages --all --ignore=.venv --ignore=node_modules --ignore=static/vendor --no-obsolete

run: venv assets compilemessages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "LocalBazaar is at http://$(HOST):$(PORT)  (Ctrl-C stops it)"
	$(PY) manage.py runserver $(HOST):$(PORT)

chromium:
	@test -x /usr/bin/chromium || { echo "Installing Debian's Chromium for the browser tests"; \
	  (apt-get update -qq && apt-get install -y -qq chromium) || sudo sh -c 'apt-get update -qq && apt-get install -y -qq chromium'; }

test: venv-dev assets compilemessages chromium
	@set -e; \
	if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_URL)'.rsplit('/',1)[0]+'/postgres', connect_timeout=3).close()" 2>/dev/null; then \
	  export DATABASE_URL=$(PG_URL); db="PostgreSQL ($(PG_URL))"; \
	else \
	  if [ "$$CI" = "true" ]; then echo "CI=true but PostgreSQL at 127.0.0.1:5432 does not answer" >&2; exit 1; fi; \
	  unset DATABASE_URL; db="SQLite (PostgreSQL did not answer)"; \
	fi; \
	if $(PY) -c "import redis; redis.Redis.from_url('$(REDIS_TEST_URL)', socket_connect_timeout=3).ping()" 2>/dev/null; then \
	  export REDIS_URL=$(REDIS_TEST_URL); rd="Redis ($(REDIS_TEST_URL))"; \
	else \
	  if [ "$$CI" = "true" ]; then echo "CI=true but Redis at 127.0.0.1:6379 does not answer" >&2; exit 1; fi; \
	  unset REDIS_URL; rd="in-memory substitutes (Redis did not answer; worker tests skipped)"; \
	fi; \
	echo "Tests use: database $$db; broker/cache $$rd"; \
	$(VENV)/bin/pytest $(PYTEST_ARGS); \
	echo "Tests used: database $$db; broker/cache $$rd"

lint: venv-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: venv-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The web benchmark drives gunicorn with wrk (Debian's package) over 127.0.0.1 only.
wrk:
	@command -v wrk >/dev/null || { echo "Installing Debian's wrk for the benchmarks"; \
	  (apt-get update -qq && apt-get install -y -qq wrk) || sudo sh -c 'apt-get update -qq && apt-get install -y -qq wrk'; }

bench: venv-dev assets wrk
	$(PY) bench/run.py $(B)

clean:
	rm -rf $(VENV) node_modules static/vendor staticfiles db.sqlite3
