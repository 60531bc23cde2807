# directmail: `make run` to try it, `make test` to check it. See README.md.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
BASE_STAMP := $(VENV)/.installed-base
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint format lock browser bench chaos clean messages codemirror

$(PY):
	$(PYTHON) -m venv $(VENV)

$(BASE_STAMP): requirements/base.lock | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements/base.lock
	touch $@

$(TEST_STAMP): requirements/test.lock $(BASE_STAMP)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements/test.lock
	touch $@

## run: install, migrate, create the demo login, then web (127.0.0.1:8000), worker and smtpd (2525) in the
## foreground. Another port: `make run PORT=8080` (or ADDRPORT=0.0.0.0:8080 to listen on every address).
PORT ?= 8000
ADDRPORT ?= 127.0.0.1:$(PORT)
run: export DEBUG ?= true
run: export PUBLIC_BASE_URL ?= http://$(ADDRPORT)
run: $(BASE_STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_demo --addrport $(ADDRPORT)
	$(PY) manage.py runall --addrport $(ADDRPORT)

## test: install the test dependencies (and Chromium from Debian when missing), run the whole suite.
test: $(TEST_STAMP) browser
	$(PY) -m pytest

# Browser tests drive Debian's Chromium (Playwright cannot download its own here) with CJK fonts; the
# deployment tests check the nginx site with nginx -t; the template tests score mail with SpamAssassin's
# spamd (started by the tests themselves, on a port of their own).
browser:
	@if [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1 || ! command -v nginx >/dev/null \
	    || [ ! -x /usr/sbin/spamd ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      chromium fonts-noto-cjk nginx-light spamassassin spamd >/dev/null; \
	  else \
	    echo "Missing test tools: install the Debian packages chromium, fonts-noto-cjk, nginx-light, spamassassin and spamd (as root)."; \
	  fi; \
	fi

## bench: delivery against a plain-SMTP baseline, API calls/s under gunicorn against a trivial view, SMTP
## submissions/s against a bare aiosmtpd, recipient imports (rows/s, peak memory) against csv alone, a batch
## send end to end against plain SMTP, the statistics pages and API with a million messages against scanning
## the events, address validation without probes against email-validator's syntax check: on SQLite (the
## embedded default), then on PostgreSQL with Redis as broker and cache (the production layout; Redis's
## database 14, emptied first) when both run here. Each on a fresh database. Then one summary table per
## database: figure, baseline, ratio, target, met or not (the figures are in var/bench-results.jsonl).
BENCH_MESSAGES ?= 10000
BENCH_API_REQUESTS ?= 3000
BENCH_SMTP_MESSAGES ?= 3000
BENCH_BATCH_RECIPIENTS ?= 10000
BENCH_STATS_MESSAGES ?= 1000000
BENCHES = "bench_delivery --messages $(BENCH_MESSAGES)" "bench_api --requests $(BENCH_API_REQUESTS)" \
	"bench_smtp --messages $(BENCH_SMTP_MESSAGES)" "bench_import --rows 10000 --rows 100000" \
	"bench_batch --recipients $(BENCH_BATCH_RECIPIENTS)" "bench_stats --messages $(BENCH_STATS_MESSAGES)" \
	"bench_validation --addresses 10000"
PG_BENCH_URL ?= postgres://postgres@127.0.0.1:5432/directmail_bench
REDIS_BENCH_URL ?= redis://127.0.0.1:6379/14
BENCH_RESULTS ?= $(CURDIR)/var/bench-results.jsonl
bench: export BENCH_RESULTS := $(BENCH_RESULTS)
bench: $(TEST_STAMP)
	@mkdir -p $(dir $(BENCH_RESULTS)) && rm -f $(BENCH_RESULTS)
	@for what in $(BENCHES); do \
	  dir=$$(mktemp -d); echo "== SQLite: $$what"; \
	  env -u DATABASE_URL -u REDIS_URL DATA_DIR=$$dir $(PY) manage.py migrate -v0 && \
	  env -u DATABASE_URL -u REDIS_URL DATA_DIR=$$dir $(PY) manage.py $$what; \
	  rm -rf $$dir; \
	done
	@if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
	  echo "== PostgreSQL is not running on 127.0.0.1:5432: skipped"; \
	elif ! redis-cli -u $(REDIS_BENCH_URL) ping >/dev/null 2>&1; then \
	  echo "== Redis is not running at $(REDIS_BENCH_URL): PostgreSQL + Redis skipped"; \
	else \
	  for what in $(BENCHES); do \
	    dir=$$(mktemp -d); echo "== PostgreSQL + Redis: $$what"; \
	    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS directmail_bench" \
	      -c "CREATE DATABASE directmail_bench" && redis-cli -u $(REDIS_BENCH_URL) flushdb >/dev/null && \
	    env DATA_DIR=$$dir DATABASE_URL=$(PG_BENCH_URL) REDIS_URL=$(REDIS_BENCH_URL) $(PY) manage.py migrate -v0 && \
	    env DATA_DIR=$$dir DATABASE_URL=$(PG_BENCH_URL) REDIS_URL=$(REDIS_BENCH_URL) $(PY) manage.py $$what; \
	    rm -rf $$dir; \
	  done; \
	fi
	@$(PY) manage.py bench_summary $(BENCH_RESULTS)

## lint: ruff check and format check, the apps' one-way dependencies (import-linter: pyproject.toml's
## [tool.importlinter]) and types (mypy with django-stubs: [tool.mypy]), as CI runs them.
lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: $(TEST_STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## chaos: faults injected into a running layout under API and SMTP load (a worker SIGKILLed, smtpd SIGKILLed
## mid-DATA, the receiver answering 451 and hanging, SQLite's disk full, PostgreSQL cut off, Redis killed,
## runall killed with kill -9), then a table of what came of each: accepted, delivered, waiting, duplicates,
## lost, what clients saw, recovery. On SQLite, then on PostgreSQL (+ a Redis of its own) when it runs.
CHAOS_PG_URL ?= postgres://postgres@127.0.0.1:5432/directmail_chaos
chaos: $(TEST_STAMP)
	@echo "== SQLite"; env -u DATABASE_URL -u REDIS_URL $(PY) -m tests.chaos
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
	  echo "== PostgreSQL"; \
	  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS directmail_chaos" \
	    -c "CREATE DATABASE directmail_chaos" && \
	  env -u REDIS_URL CHAOS_DATABASE_URL=$(CHAOS_PG_URL) $(PY) -m tests.chaos; \
	else echo "== PostgreSQL is not running on 127.0.0.1:5432: skipped"; fi

## messages: update locale/zh_Hans from the code's marked strings, then compile it (needs GNU gettext:
## apt-get install gettext). Both the .po and the compiled .mo are committed, so running needs neither.
messages: $(TEST_STAMP)
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --add-location=file \
	  --ignore=.venv --ignore=tests --ignore=test-results --ignore=deploy/codemirror/node_modules
	$(PY) manage.py compilemessages -l zh_Hans --ignore=.venv

## codemirror: rebuild the template editor's bundle (static/vendor/codemirror/) from npm, as
## deploy/codemirror/package-lock.json pins it; the bundle is committed, so running needs no Node.js.
codemirror:
	cd deploy/codemirror && npm ci --no-audit --no-fund && npm run build

## lock: re-pin requirements/*.lock from pyproject.toml.
lock: | $(PY)
	$(PY) -m pip install -q pip-tools
	$(VENV)/bin/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links \
	  -o requirements/base.lock pyproject.toml
	$(VENV)/bin/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links \
	  --extra test -o requirements/test.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
