# DocuID — `make run` serves a development instance, `make test` runs the suite.
# Both create the virtualenv and install the pinned requirements on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv migrate demo lint format bench-documents bench-backup bench-metrics clean prod prod-down

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

# Development values, set explicitly: DEBUG on, a throwaway key, the simulator.
run: export DEBUG ?= 1
run: export SECRET_KEY ?= django-insecure-development-only-key-never-use-in-production
run: export DOCUID_BIOMETRIC_PROVIDER ?= simulator
run: export DOCUID_SITE_URL ?= http://localhost:$(PORT)
run: export DOCUID_LOG_FORMAT ?= json
# Backups are always encrypted; this development-only key lets `manage.py backup` run against make run's
# database (export it, or run the backup commands through `make`, so they can read the archives back).
run: export DOCUID_BACKUP_KEY ?= RG9jdUlEIGRldmVsb3BtZW50LW9ubHkga2V5ISEhISE=
run: venv
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_data
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

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

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

# Scrape cost of /metrics after traffic over every route, through gunicorn with 2 workers (SQLite, temp dir).
bench-metrics: venv
	$(PY) bench/metrics.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
