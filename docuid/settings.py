"""DocuID settings: one file, every deployment choice from the environment.

With nothing set it refuses to start (no SECRET_KEY with DEBUG off). `make run`
sets the development values; production sets the secrets. Every variable is
listed, with its default, in README.md and .env.example.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if not value:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}.")


def env_int(name: str, default: int) -> int:
    value = env(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# --- Core -------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. DocuID refuses to start with DEBUG off and no SECRET_KEY: "
            "set SECRET_KEY to a long random value (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'), or use `make run` for development."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
DOCUID_VERSION = "0.1.0"
VAR_DIR = Path(env("DOCUID_VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "docuid.apps.DocuIDAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_prometheus",
    "rest_framework",
    "csp",
    "docuid",
    "audit",
    "accounts",
    "documents",
    "operations",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "docuid.middleware.RequestIDMiddleware",
    "docuid.middleware.LatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "docuid.urls"
WSGI_APPLICATION = "docuid.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "docuid.context_processors.site",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# DATABASE_URL=postgres://user:pass@host:5432/name selects PostgreSQL (psycopg 3);
# without it DocuID runs on SQLite under var/.

DATABASE_URL = env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.sqlite3"
    # WAL lets the dev server, Celery (eager) and the tests read while one writes.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL;"
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, sessions ---------------------------------------------------------
# REDIS_URL makes Redis the cache (and so the throttling store) and the Celery broker.

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "docuid",
            "TIMEOUT": 300,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env_int("DOCUID_SESSION_AGE_SECONDS", 24 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Identity ---------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
PHONENUMBER_DEFAULT_REGION = env("DOCUID_DEFAULT_REGION", "US")
OTP_TOTP_ISSUER = env("DOCUID_OTP_ISSUER", "DocuID")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Biometric provider -------------------------------------------------------
# webauthn (our approval page + passkeys), ivalt (external API) or simulator
# (demo numbers; refused with DEBUG off unless DOCUID_ALLOW_SIMULATOR=1).

DOCUID_BIOMETRIC_PROVIDER = env("DOCUID_BIOMETRIC_PROVIDER", "webauthn")
DOCUID_ALLOW_SIMULATOR = env_bool("DOCUID_ALLOW_SIMULATOR", False)
if DOCUID_BIOMETRIC_PROVIDER not in {"webauthn", "ivalt", "simulator"}:
    raise ImproperlyConfigured(
        f"DOCUID_BIOMETRIC_PROVIDER must be webauthn, ivalt or simulator, not {DOCUID_BIOMETRIC_PROVIDER!r}."
    )
if DOCUID_BIOMETRIC_PROVIDER == "simulator" and not DEBUG and not DOCUID_ALLOW_SIMULATOR:
    raise ImproperlyConfigured(
        "The simulator biometric provider approves demo numbers without a biometric; it is refused "
        "with DEBUG off. Choose DOCUID_BIOMETRIC_PROVIDER=webauthn or ivalt, or set "
        "DOCUID_ALLOW_SIMULATOR=1 for a demo deployment."
    )

# --- Storage ----------------------------------------------------------------
# DOCUID_STORAGE=local keeps files under var/; DOCUID_STORAGE=s3 uses any
# S3-compatible object store through django-storages (DOCUID_S3_* below).
# Media files are never served by URL: only access-checked views stream them.

DOCUID_STORAGE = env("DOCUID_STORAGE", "local")
MEDIA_ROOT = VAR_DIR / "media"
BACKUP_ROOT = VAR_DIR / "backups"
if DOCUID_STORAGE == "local":
    _media = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": None},
    }
    _backups = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(BACKUP_ROOT), "base_url": None},
    }
elif DOCUID_STORAGE == "s3":
    _s3 = {
        "access_key": env("DOCUID_S3_ACCESS_KEY_ID"),
        "secret_key": env("DOCUID_S3_SECRET_ACCESS_KEY"),
        "endpoint_url": env("DOCUID_S3_ENDPOINT_URL") or None,
        "region_name": env("DOCUID_S3_REGION") or None,
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
    }
    _media = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**_s3, "bucket_name": env("DOCUID_S3_BUCKET"), "location": "media"},
    }
    _backups = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            **_s3,
            "bucket_name": env("DOCUID_S3_BACKUP_BUCKET") or env("DOCUID_S3_BUCKET"),
            "location": "backups",
        },
    }
else:
    raise ImproperlyConfigured(f"DOCUID_STORAGE must be local or s3, not {DOCUID_STORAGE!r}.")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": _media,
    "backups": _backups,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DOCUID_MAX_UPLOAD_MB = env_int("DOCUID_MAX_UPLOAD_MB", 100)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Celery -----------------------------------------------------------------
# With no broker, tasks run eagerly in the calling process (development).

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", REDIS_URL) or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}
CELERY_WORKER_METRICS_PORT = env_int("CELERY_WORKER_METRICS_PORT", 9808)

# --- Metrics ----------------------------------------------------------------
# /metrics is open in development; in production only to METRICS_ALLOWED_IPS
# or to a scraper presenting `Authorization: Bearer $METRICS_TOKEN`.

METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1" if DEBUG else "")
METRICS_TOKEN = env("METRICS_TOKEN")
PROMETHEUS_EXPORT_MIGRATIONS = False
PROMETHEUS_METRIC_NAMESPACE = ""

# --- Logging ----------------------------------------------------------------
# JSON lines on stdout; every handler masks PII (docuid/logging.py).

DOCUID_LOG_LEVEL = env("DOCUID_LOG_LEVEL", "INFO").upper()
DOCUID_LOG_FORMAT = env("DOCUID_LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "pii": {"()": "docuid.logging.PIIMaskingFilter"},
        "request": {"()": "docuid.logging.RequestContextFilter"},
    },
    "formatters": {
        "json": {"()": "docuid.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": DOCUID_LOG_FORMAT,
            "filters": ["request", "pii"],
        },
    },
    "root": {"handlers": ["stdout"], "level": DOCUID_LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["stdout"], "level": DOCUID_LOG_LEVEL, "propagate": False},
        # Request errors are logged by our middleware with the request id.
        "django.request": {"handlers": ["stdout"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
        "django.db.backends": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
        "celery": {"handlers": ["stdout"], "level": DOCUID_LOG_LEVEL, "propagate": False},
    },
}

# --- Security headers -------------------------------------------------------

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DOCUID_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("DOCUID_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env_bool("DOCUID_BEHIND_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        USE_X_FORWARDED_HOST = True

# --- Internationalisation ---------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Django REST framework --------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
