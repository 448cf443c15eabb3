# DocuID — `make run` serves a development instance, `make test` runs the suite.
# Both create the virtualenv and install the pinned requirements on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv migrate demo lint format bench-documents bench-backup bench-metrics bench-search bench-viewer bench-audit clean prod prod-down screenshots

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned requirements into $(VENV) (the first run takes a minute or two)..."
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

# Development values, set explicitly: DEBUG on, a throwaway key, the simulator.
run: export DEBUG ?= 1
run: export SECRET_KEY ?= django-insecure-development-only-key-never-use-in-production
run: export DOCUID_BIOMETRIC_PROVIDER ?= simulator
run: export DOCUID_SITE_URL ?= http://localhost:$(PORT)
# Readable lines in a terminal; JSON stays the default everywhere else (production).
run: export DOCUID_LOG_FORMAT ?= text
# Backups are always encrypted; this development-only key lets `manage.py backup` run against make run's
# database (export it, or run the backup commands through `make`, so they can read the archives back).
run: export DOCUID_BACKUP_KEY ?= RG9jdUlEIGRldmVsb3BtZW50LW9ubHkga2V5ISEhISE=
run: venv
	@mkdir -p "$${DOCUID_VAR_DIR:-var}"
	@# README's `.venv/bin/python manage.py ...` commands read this when DEBUG and SECRET_KEY are unset
	@# (manage.py load_dev_env; never with DEBUG=0 or a SECRET_KEY set). Only a DEBUG=1 run writes it.
	@if [ "$$DEBUG" = 1 ]; then umask 077; printf '%s\n' \
	  "# Written by make run: the development environment it serves with (DEBUG=1). Never used in production." \
	  "DEBUG=$$DEBUG" "SECRET_KEY=$$SECRET_KEY" "DOCUID_BIOMETRIC_PROVIDER=$$DOCUID_BIOMETRIC_PROVIDER" \
	  "DOCUID_SITE_URL=$$DOCUID_SITE_URL" "DOCUID_LOG_FORMAT=$$DOCUID_LOG_FORMAT" "DOCUID_BACKUP_KEY=$$DOCUID_BACKUP_KEY" \
	  > "$${DOCUID_VAR_DIR:-var}/dev.env"; fi
	@echo "Migrating the database..."
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py demo_data
	@echo ""
	@echo "  DocuID is starting. Open http://localhost:$(PORT)  (WebAuthn needs 'localhost', not 127.0.0.1)"
	@echo "  Health: http://localhost:$(PORT)/healthz  Ready: http://localhost:$(PORT)/readyz  Admin: http://localhost:$(PORT)/admin/"
	@echo ""
	$(PY) manage.py runserver $(HOST):$(PORT)

# The production shape on this machine (docs/DEPLOYMENT.md): nginx with TLS, gunicorn (web and ops),
# Celery worker and beat, Prometheus, Alertmanager and the exporters, on the local PostgreSQL and
# Redis (or DATABASE_URL / REDIS_URL), all started by honcho from the Procfiles, state in var/prod/.
prod: venv
	bash deploy/prod-stack.sh up

prod-down:
	bash deploy/prod-stack.sh down

# Two app hosts behind nginx on this machine (docs/DEPLOYMENT.md, "Topology: two app hosts"): gunicorn
# host A and host B sharing PostgreSQL, Redis (DATABASE_URL / REDIS_URL) and moto's S3 server, state in
# var/two-hosts/. In the foreground: Ctrl-C stops it all.
.PHONY: two-hosts
two-hosts: venv
	$(PY) deploy/two-hosts/stack.py up

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# Screenshots of the main pages at 390 and 1280 px into docs/screenshots/, taken by the browser page
# audit (tests/browser/test_page_audit.py; chromium from deploy/install-ci-tools.sh, axe-core by npm ci).
screenshots: venv
	@test -f tests/browser/node_modules/axe-core/axe.min.js || npm ci --prefix tests/browser --no-audit --no-fund
	DOCUID_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest tests/browser/test_page_audit.py -q -p no:randomly -k reads_well
	# The grid and the share viewer after the audit: their screenshots show cards and pages the audit's data lacks.
	DOCUID_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest tests/browser/test_grid_cards.py tests/browser/test_share_viewer.py -q -p no:randomly

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Documents benchmark: PostgreSQL (its own database, BENCH_DOCUMENTS_DATABASE_URL, dropped and re-created)
# and wrk (apt-get install wrk).
bench-documents: venv
	@command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk"; exit 1; }
	$(PY) bench/documents.py $(BENCH_ARGS)

# Backup benchmark: DocuID backup/restore vs pg_dump+tar / pg_restore+untar on ~1 GB (its own databases,
# dropped after; BENCH_DATABASE_URL overrides). BENCH_ARGS="--size-mb 64" for a smoke run.
bench-backup: venv
	$(PY) bench/backup.py $(BENCH_ARGS)

# Search benchmark: documents_list with a query at 16 threads, for a person seeing ~1 % and one seeing ~30 %
# (PostgreSQL, its own database BENCH_SEARCH_DATABASE_URL, dropped and re-created). BENCH_ARGS="--documents 10000".
bench-search: venv
	$(PY) bench/search.py $(BENCH_ARGS)

# Scrape cost of /metrics after traffic over every route, through gunicorn with 2 workers (SQLite, temp dir).
bench-metrics: venv
	$(PY) bench/metrics.py $(BENCH_ARGS)

# Viewer benchmark (issue #15): LibreOffice conversions per minute per core for docx/xlsx/pptx, DocuID's
# contained conversion vs calling soffice directly (target >= 0.8x). BENCH_ARGS="--files 10".
bench-viewer: venv
	$(PY) bench/viewer.py $(BENCH_ARGS)

# Audit-append scaling (issue #16): transactions recording one audit event then 2 ms of work, 1 vs 8 writer
# processes, synchronous commit on, next to a plain table and the old global lock (PostgreSQL, its own database
# BENCH_AUDIT_DATABASE_URL, dropped and re-created). Target: 8 writers >= 4x one. BENCH_ARGS="--seconds 5".
bench-audit: venv
	$(PY) bench/audit.py $(BENCH_ARGS)

# Audited opens (issue #16): the inline PDF open at wrk -c16 under gunicorn DEBUG=0 against the same view with its
# audit event as one plain INSERT (target >= 0.9x), on the documents bench's database (BENCH_DOCUMENTS_DATABASE_URL;
# BENCH_ARGS="--seed" seeds it first). Needs wrk.
.PHONY: bench-audit-open
bench-audit-open: venv
	$(PY) bench/audit_open.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
