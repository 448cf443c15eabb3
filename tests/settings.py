"""Test settings: the production settings module with test-only environment defaults.

Environment set outside (DATABASE_URL, REDIS_URL in CI) wins over these defaults.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-any-deployment")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("DOCUID_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DOCUID_BIOMETRIC_PROVIDER", "simulator")
os.environ.setdefault("DOCUID_ALLOW_SIMULATOR", "1")
os.environ.setdefault("DOCUID_SIMULATOR_APPROVE_DELAY_SECONDS", "0")
os.environ.setdefault("METRICS_ALLOWED_IPS", "127.0.0.1")
os.environ.setdefault("DOCUID_VAR_DIR", tempfile.mkdtemp(prefix="docuid-test-var-"))

from docuid.settings import *  # noqa: F403

# Tests render templates without running collectstatic.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
os.makedirs(STATIC_ROOT, exist_ok=True)  # noqa: F405 — whitenoise warns when it is missing

# Tasks run eagerly in tests even when REDIS_URL is set (CI); the worker test
# (tests/docuid/test_celery.py) switches a real worker on for itself.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_WORKER_METRICS_PORT = 0

# The audit table's trigger rejects TRUNCATE unless the session allows it; the test
# runner truncates every table between transactional tests (audit/migrations/0002).
if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c docuid.audit_allow_truncate=on"  # noqa: F405
# SQLite's triggers (audit/migrations/0004) ask audit.dbfunctions.truncate_allowed, which needs this and a test database.
DOCUID_AUDIT_ALLOW_TRUNCATE = True
