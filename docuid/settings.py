"""DocuID settings: one file, every deployment choice from the environment.

With nothing set it refuses to start (no SECRET_KEY with DEBUG off). `make run`
sets the development values; production sets the secrets. Every variable is
listed, with its default, in README.md and .env.example.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    # An empty variable means unset: process managers pass `NAME=` lines of .env.example through.
    return os.environ.get(name, "").strip() or default


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
if not DEBUG:
    # Prometheus's scrape and Alertmanager's webhook reach gunicorn on the loopback address, not by
    # the site's name; nginx's default server refuses any other name (deploy/nginx/docuid.conf).
    ALLOWED_HOSTS += [host for host in ("127.0.0.1", "[::1]") if host not in ALLOWED_HOSTS]
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
    "docuid.apps.AuthenticatorAppsConfig",  # django_otp.plugins.otp_totp, named for the admin
    "docuid.apps.BackupCodesConfig",  # django_otp.plugins.otp_static
    "docuid.apps.PasskeysConfig",  # django_otp_webauthn
    "docuid.apps.AdminLockoutsConfig",  # axes: admin login lockout (settings block "Admin login lockout")
    "django_prometheus",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "csp",
    "docuid",
    "audit",
    "accounts",
    "documents",
    "operations",
    "api",
]

MIDDLEWARE = [
    "docuid.middleware.PrometheusBeforeMiddleware",
    "docuid.middleware.TrustedProxyMiddleware",  # before anything that reads REMOTE_ADDR
    "docuid.middleware.RequestIDMiddleware",
    "operations.middleware.MaintenanceModeMiddleware",
    "docuid.middleware.LatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "docuid.read_your_writes.ReadYourWritesMiddleware",  # only with DATABASE_REPLICA_URL: writers read the primary
    "docuid.middleware.StaticFilesMiddleware",  # WhiteNoise, under STATIC_URL only
    "django.contrib.sessions.middleware.SessionMiddleware",
    "docuid.middleware.ApiCorsMiddleware",  # django-cors-headers under /api/ only; before CommonMiddleware (preflights)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "docuid.middleware.SessionLayersMiddleware",  # django-otp + session idle timeout, with a session cookie only
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "docuid.middleware.ContentSecurityPolicyMiddleware",  # django-csp with the header built once
    "axes.middleware.AxesMiddleware",  # turns an admin login lockout into the 429 page
    "documents.middleware.NotSendableMiddleware",  # a confidential file that cannot go out as asked: 409/422, not 500
    "docuid.middleware.PrometheusAfterMiddleware",
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
    # Hot fragments (document list rows, access history rows) render with Jinja2: Django's template
    # language cost ~10 ms per 20 rows. Templates in templates/jinja2/, environment in docuid/jinja2.py.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "docuid.jinja2.environment", "trim_blocks": True, "lstrip_blocks": True},
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
# DATABASE_REPLICA_URL: a PostgreSQL streaming replica of the primary. Only the reads that
# docuid.db_routers.replica_reads() wraps (list and search pages, reports) go there; every
# write, and every access decision, stays on the primary (docs/DEPLOYMENT.md, "Topology").
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
    )
    DATABASES["replica"]["ENGINE"] = DATABASES["default"]["ENGINE"]
    # Test runs use the primary's test database for it rather than creating one on a read-only server.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["docuid.db_routers.ReplicaRouter"]
# A person's reads stay on the primary this long after they write (read-your-writes).
DOCUID_READ_YOUR_WRITES_SECONDS = env_int("DOCUID_READ_YOUR_WRITES_SECONDS", 10)
# Past this replay lag (seconds) the replica is skipped; a failed replica is retried after DOWN_SECONDS.
DOCUID_REPLICA_MAX_LAG_SECONDS = env_int("DOCUID_REPLICA_MAX_LAG_SECONDS", 30)
DOCUID_REPLICA_DOWN_SECONDS = env_int("DOCUID_REPLICA_DOWN_SECONDS", 5)
DOCUID_REPLICA_LAG_CHECK_SECONDS = env_int("DOCUID_REPLICA_LAG_CHECK_SECONDS", 2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, sessions ---------------------------------------------------------
# REDIS_URL makes Redis the cache (and so the throttling store) and the Celery broker.
# DOCUID_CACHE_KEY_PREFIX keeps two deployments (or two test servers) apart in one Redis.

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_prometheus.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("DOCUID_CACHE_KEY_PREFIX", "docuid"),
            "TIMEOUT": 300,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache"}}

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
# Axes first: it refuses a locked-out admin login before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
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

# --- Biometric login ----------------------------------------------------------
# Login requests, passkeys (django-otp-webauthn), notifiers and abuse limits.
# Every variable is listed in README.md and .env.example.

# In development the site is http://localhost:8000; in production it defaults to https://<first ALLOWED_HOSTS>.
DOCUID_SITE_URL = env(
    "DOCUID_SITE_URL",
    f"https://{ALLOWED_HOSTS[0].lstrip('.')}" if ALLOWED_HOSTS and not DEBUG else "http://localhost:8000",
).rstrip("/")
OTP_WEBAUTHN_RP_ID = env("DOCUID_WEBAUTHN_RP_ID", urlsplit(DOCUID_SITE_URL).hostname or "localhost")
OTP_WEBAUTHN_RP_NAME = env("DOCUID_WEBAUTHN_RP_NAME", "DocuID")
OTP_WEBAUTHN_ALLOWED_ORIGINS = env_list("DOCUID_WEBAUTHN_ALLOWED_ORIGINS", DOCUID_SITE_URL)
OTP_WEBAUTHN_HELPER_CLASS = "accounts.webauthn.DocuIDWebAuthnHelper"
OTP_WEBAUTHN_TIMEOUT_SECONDS = 120
DOCUID_LOGIN_REQUEST_TTL_SECONDS = env_int("DOCUID_LOGIN_REQUEST_TTL_SECONDS", 300)
DOCUID_ENROLLMENT_TTL_HOURS = env_int("DOCUID_ENROLLMENT_TTL_HOURS", 24)
DOCUID_FRAUD_BLOCK_MINUTES = env_int("DOCUID_FRAUD_BLOCK_MINUTES", 20)
# Login limits (accounts/services/limits.py). Networks are IPv4 /24 and IPv6 /64.
DOCUID_RATE_LIMIT_PHONE = env_int("DOCUID_RATE_LIMIT_PHONE", 5)  # login requests per number per network per window
# Prompts (push, SMS) per number per hour for browsers that never signed in as it; past it, no prompt is sent
# (the request is still accepted), so strangers cannot push-bomb a phone nor, by refusals, lock its owner out.
DOCUID_LOGIN_PROMPTS_PER_HOUR = env_int("DOCUID_LOGIN_PROMPTS_PER_HOUR", 10)
# A browser that signed in as a number is exempt from the limits above for it for this long (signed cookie).
DOCUID_KNOWN_BROWSER_DAYS = env_int("DOCUID_KNOWN_BROWSER_DAYS", 90)
DOCUID_RATE_LIMIT_IP = env_int("DOCUID_RATE_LIMIT_IP", 20)  # login requests per network per window
DOCUID_RATE_LIMIT_WINDOW_SECONDS = env_int("DOCUID_RATE_LIMIT_WINDOW_SECONDS", 900)
DOCUID_DENIAL_LOCK_COUNT = env_int("DOCUID_DENIAL_LOCK_COUNT", 5)  # denials that lock a number...
DOCUID_DENIAL_LOCK_WINDOW_SECONDS = env_int("DOCUID_DENIAL_LOCK_WINDOW_SECONDS", 3600)  # ...within this window
DOCUID_SESSION_IDLE_SECONDS = env_int("DOCUID_SESSION_IDLE_SECONDS", 1800)
DOCUID_SIMULATOR_APPROVE_DELAY_SECONDS = env_int("DOCUID_SIMULATOR_APPROVE_DELAY_SECONDS", 2)
# Notifiers that carry the approval link to the phone: console (development), webpush, sms.
# By default web push is on once its VAPID keys are set; sms needs listing explicitly.
DOCUID_VAPID_PUBLIC_KEY = env("DOCUID_VAPID_PUBLIC_KEY")
DOCUID_VAPID_PRIVATE_KEY = env("DOCUID_VAPID_PRIVATE_KEY")
DOCUID_NOTIFIERS = env_list(
    "DOCUID_NOTIFIERS", ",".join(["console"] * DEBUG + ["webpush"] * bool(DOCUID_VAPID_PRIVATE_KEY))
)
DOCUID_VAPID_SUBJECT = env("DOCUID_VAPID_SUBJECT", "mailto:support@example.com")
DOCUID_TWILIO_API_URL = env("DOCUID_TWILIO_API_URL", "https://api.twilio.com").rstrip("/")
DOCUID_TWILIO_ACCOUNT_SID = env("DOCUID_TWILIO_ACCOUNT_SID")
DOCUID_TWILIO_AUTH_TOKEN = env("DOCUID_TWILIO_AUTH_TOKEN")
DOCUID_TWILIO_FROM = env("DOCUID_TWILIO_FROM")
DOCUID_IVALT_BASE_URL = env("DOCUID_IVALT_BASE_URL", "https://api.ivalt.com").rstrip("/")
DOCUID_IVALT_API_KEY = env("DOCUID_IVALT_API_KEY")
DOCUID_IVALT_TIMEOUT_SECONDS = env_int("DOCUID_IVALT_TIMEOUT_SECONDS", 10)
DOCUID_IVALT_RETRIES = env_int("DOCUID_IVALT_RETRIES", 2)
if DOCUID_BIOMETRIC_PROVIDER == "ivalt" and not DOCUID_IVALT_API_KEY:
    raise ImproperlyConfigured(
        "DOCUID_BIOMETRIC_PROVIDER=ivalt needs DOCUID_IVALT_API_KEY (and DOCUID_IVALT_BASE_URL)."
    )

# --- Admin login lockout (django-axes) -----------------------------------------
# Only the admin's one-step password + authenticator code form (docuid/admin_login.py)
# counts: the phone-number logins have their own limits above, and a phone login
# never resets an admin lockout. Attempts live in the database, so every web process
# sees the same count. Unlock: `manage.py axes_reset_username <+E.164>` (guide, section 6).
AXES_ONLY_ADMIN_SITE = True
AXES_HANDLER = "docuid.admin_login.AdminOnlyAxesHandler"
AXES_FAILURE_LIMIT = env_int("DOCUID_ADMIN_LOCKOUT_FAILURES", 5)
DOCUID_ADMIN_LOCKOUT_MINUTES = env_int("DOCUID_ADMIN_LOCKOUT_MINUTES", 30)
AXES_COOLOFF_TIME = DOCUID_ADMIN_LOCKOUT_MINUTES / 60  # axes reads a number as hours
# A staff number after N failures from anywhere; a client address after N failures on any numbers.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "docuid.admin_login.axes_username"  # E.164: every spelling counts as one
AXES_LOCKOUT_CALLABLE = "docuid.admin_login.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # successes are in the audit trail, which keeps no full IPs
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token"]  # never stored or logged by axes
AXES_VERBOSE = False  # no start-up banner in every manage.py command's output

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
        # django-storages reads an object whole into a SpooledTemporaryFile before the first byte is
        # sent; its default limit, 0, never spills, so every download held the file in the worker's
        # memory. Past 2 MB it goes to a temporary file (FILE_UPLOAD_TEMP_DIR, else the system's).
        "max_memory_size": 2 * 1024 * 1024,
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

# --- Backup and recovery ----------------------------------------------------
# Backups are always encrypted (AES-256-GCM). Without DOCUID_BACKUP_KEY (base64
# of 32 random bytes: `python -m operations.crypto genkey`) `backup` refuses to
# run in every environment — an unencrypted copy of every document is the one
# file an attacker wants; `make run` sets a development-only key. Older keys stay
# readable through DOCUID_BACKUP_OLD_KEYS. DOCUID_BACKUP_REPLICAS=dr,offsite
# copies every archive to extra storages, each configured by
# DOCUID_BACKUP_REPLICA_<NAME>_PATH (a directory, e.g. a mounted remote volume)
# or DOCUID_BACKUP_REPLICA_<NAME>_S3_BUCKET (+ _S3_ENDPOINT_URL, _S3_REGION;
# credentials DOCUID_S3_*). See docs/OPERATIONS_GUIDE.md, Backup & Recovery.

DOCUID_BACKUP_KEY = env("DOCUID_BACKUP_KEY")
DOCUID_BACKUP_OLD_KEYS = env_list("DOCUID_BACKUP_OLD_KEYS")
for _key_name, _key in [
    ("DOCUID_BACKUP_KEY", DOCUID_BACKUP_KEY),
    *(("DOCUID_BACKUP_OLD_KEYS", k) for k in DOCUID_BACKUP_OLD_KEYS),
]:
    if _key:
        import base64 as _b64
        import binascii as _binascii

        try:
            _key_ok = len(_b64.b64decode(_key, validate=True)) == 32
        except (_binascii.Error, ValueError):
            _key_ok = False
        if not _key_ok:
            raise ImproperlyConfigured(
                f"{_key_name} must be base64 of 32 random bytes; make one with `python -m operations.crypto genkey`."
            )
# The Makefile's development key is public: production never encrypts with it.
if not DEBUG and DOCUID_BACKUP_KEY == "RG9jdUlEIGRldmVsb3BtZW50LW9ubHkga2V5ISEhISE=":
    raise ImproperlyConfigured("DOCUID_BACKUP_KEY is the public development key from the Makefile; set a real one.")
DOCUID_BACKUP_REPLICAS = [name.lower() for name in env_list("DOCUID_BACKUP_REPLICAS")]
for _replica in DOCUID_BACKUP_REPLICAS:
    _prefix = f"DOCUID_BACKUP_REPLICA_{_replica.upper()}"
    if not _replica.replace("_", "").isalnum():
        raise ImproperlyConfigured(f"DOCUID_BACKUP_REPLICAS: {_replica!r} is not a valid name (letters, digits, _).")
    if env(f"{_prefix}_PATH"):
        STORAGES[f"backups_{_replica}"] = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": env(f"{_prefix}_PATH"), "base_url": None},
        }
    elif env(f"{_prefix}_S3_BUCKET"):
        STORAGES[f"backups_{_replica}"] = {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "access_key": env(f"{_prefix}_S3_ACCESS_KEY_ID") or env("DOCUID_S3_ACCESS_KEY_ID"),
                "secret_key": env(f"{_prefix}_S3_SECRET_ACCESS_KEY") or env("DOCUID_S3_SECRET_ACCESS_KEY"),
                "endpoint_url": env(f"{_prefix}_S3_ENDPOINT_URL") or None,
                "region_name": env(f"{_prefix}_S3_REGION") or None,
                "bucket_name": env(f"{_prefix}_S3_BUCKET"),
                "location": "backups",
                "default_acl": None,
                "file_overwrite": True,
            },
        }
    else:
        raise ImproperlyConfigured(
            f"Backup replica {_replica!r} is listed in DOCUID_BACKUP_REPLICAS but has neither "
            f"{_prefix}_PATH nor {_prefix}_S3_BUCKET."
        )
DOCUID_BACKUP_TIME = env("DOCUID_BACKUP_TIME", "02:00")  # daily, UTC
# Retention keeps the last KEEP_LAST backups, the newest of each of the last KEEP_DAILY days,
# KEEP_WEEKLY weeks and KEEP_MONTHLY months, and every pinned one (`manage.py backup pin ID`).
DOCUID_BACKUP_KEEP_LAST = env_int("DOCUID_BACKUP_KEEP_LAST", 3)
DOCUID_BACKUP_KEEP_DAILY = env_int("DOCUID_BACKUP_KEEP_DAILY", 7)
DOCUID_BACKUP_KEEP_WEEKLY = env_int("DOCUID_BACKUP_KEEP_WEEKLY", 4)
DOCUID_BACKUP_KEEP_MONTHLY = env_int("DOCUID_BACKUP_KEEP_MONTHLY", 12)
DOCUID_RECOVERY_DRILL_TIME = env("DOCUID_RECOVERY_DRILL_TIME", "04:30")  # weekly, UTC
DOCUID_RECOVERY_DRILL_WEEKDAY = env("DOCUID_RECOVERY_DRILL_WEEKDAY", "sun")
DOCUID_RTO_SECONDS = env_int("DOCUID_RTO_SECONDS", 7200)
DOCUID_RPO_SECONDS = env_int("DOCUID_RPO_SECONDS", 300)
# Dumps and decrypted scratch copies are spooled here: on disk, never /tmp (often RAM).
DOCUID_BACKUP_WORK_DIR = Path(env("DOCUID_BACKUP_WORK_DIR", str(VAR_DIR / "backup-work")))
# Empty: pg_dump/pg_restore/psql from PATH, or /usr/lib/postgresql/<server major>/bin if PATH's are older.
DOCUID_PG_BIN_DIR = env("DOCUID_PG_BIN_DIR")
# A file (not the database, which a restore replaces) puts the site in maintenance mode.
DOCUID_MAINTENANCE_FILE = Path(env("DOCUID_MAINTENANCE_FILE", str(VAR_DIR / "maintenance.json")))


def _hh_mm(name: str, value: str) -> tuple[int, int]:
    try:
        hour, minute = (int(part) for part in value.split(":"))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be HH:MM (UTC), not {value!r}.") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ImproperlyConfigured(f"{name} must be HH:MM (UTC), not {value!r}.")
    return hour, minute


DOCUID_BACKUP_HOUR, DOCUID_BACKUP_MINUTE = _hh_mm("DOCUID_BACKUP_TIME", DOCUID_BACKUP_TIME)
DOCUID_RECOVERY_DRILL_HOUR, DOCUID_RECOVERY_DRILL_MINUTE = _hh_mm(
    "DOCUID_RECOVERY_DRILL_TIME", DOCUID_RECOVERY_DRILL_TIME
)

# --- Documents --------------------------------------------------------------
# DOCUID_MAX_UPLOAD_MB (above) limits each uploaded file. With
# DOCUID_X_ACCEL_REDIRECT_PREFIX=/protected-media/ downloads are handed to nginx
# (internal location, see deploy/nginx/docuid.conf) after the access check.
# A share link's password allows DOCUID_SHARE_PASSWORD_ATTEMPTS wrong tries per
# DOCUID_SHARE_PASSWORD_WINDOW_SECONDS, then answers 429 until the window ends.

DOCUID_MAX_FILES_PER_UPLOAD = env_int("DOCUID_MAX_FILES_PER_UPLOAD", 20)
DOCUID_X_ACCEL_REDIRECT_PREFIX = env("DOCUID_X_ACCEL_REDIRECT_PREFIX")
# The stamping template of a confidential PDF (documents.watermark) is built here, once per
# stored file, then saved to storage under stamp-templates/: needs room for the largest PDFs
# prepared at the same time. Empty: FILE_UPLOAD_TEMP_DIR, else the system's temporary directory.
DOCUID_WATERMARK_TMP_DIR = env("DOCUID_WATERMARK_TMP_DIR", "")
DOCUID_SHARE_PASSWORD_ATTEMPTS = env_int("DOCUID_SHARE_PASSWORD_ATTEMPTS", 5)
DOCUID_SHARE_PASSWORD_WINDOW_SECONDS = env_int("DOCUID_SHARE_PASSWORD_WINDOW_SECONDS", 900)
# One view of a view-limited link lasts this long for the browser that opened it: its byte
# ranges (resuming a download, a PDF viewer's chunks) are part of that view, not new ones.
DOCUID_SHARE_OPENING_SECONDS = env_int("DOCUID_SHARE_OPENING_SECONDS", 3600)

# Text extraction (issue #14): a Celery task after each upload extracts a version's text in a
# child process limited to DOCUID_EXTRACT_CPU_SECONDS of CPU, DOCUID_EXTRACT_MEMORY_MB of
# address space and DOCUID_EXTRACT_TIMEOUT_SECONDS of wall-clock, keeps at most
# DOCUID_EXTRACT_MAX_CHARS characters, and OCRs scans with tesseract in DOCUID_OCR_LANGUAGES
# ("eng", or e.g. "eng+deu": each needs Debian's tesseract-ocr-<lang> package).
DOCUID_EXTRACT_MAX_CHARS = env_int("DOCUID_EXTRACT_MAX_CHARS", 2_000_000)
DOCUID_EXTRACT_CPU_SECONDS = env_int("DOCUID_EXTRACT_CPU_SECONDS", 120)
DOCUID_EXTRACT_MEMORY_MB = env_int("DOCUID_EXTRACT_MEMORY_MB", 1024)
DOCUID_EXTRACT_TIMEOUT_SECONDS = env_int("DOCUID_EXTRACT_TIMEOUT_SECONDS", 300)
DOCUID_OCR_LANGUAGES = env("DOCUID_OCR_LANGUAGES", "eng")

# Renditions (issue #15): a Celery task after each upload converts Office/OpenDocument versions
# to PDF with LibreOffice (documents.office: own profile, no network, killed after
# DOCUID_RENDITION_TIMEOUT_SECONDS, at most DOCUID_RENDITION_MEMORY_MB of address space) and
# draws the first page of every PDF and image as a thumbnail in a child limited to
# DOCUID_THUMBNAIL_TIMEOUT_SECONDS and DOCUID_THUMBNAIL_MEMORY_MB.
DOCUID_RENDITION_TIMEOUT_SECONDS = env_int("DOCUID_RENDITION_TIMEOUT_SECONDS", 120)
DOCUID_RENDITION_MEMORY_MB = env_int("DOCUID_RENDITION_MEMORY_MB", 2048)
DOCUID_THUMBNAIL_TIMEOUT_SECONDS = env_int("DOCUID_THUMBNAIL_TIMEOUT_SECONDS", 30)
DOCUID_THUMBNAIL_MEMORY_MB = env_int("DOCUID_THUMBNAIL_MEMORY_MB", 1024)

# --- Incidents, status page, ops reports, email ------------------------------
# Alertmanager posts to /ops/alertmanager/webhook with `Authorization: Bearer
# $DOCUID_ALERTMANAGER_WEBHOOK_TOKEN` (the same value as its credentials_file,
# deploy/alertmanager/alertmanager.yml); unset, the endpoint refuses everything.
# Ops reports go to DOCUID_OPS_EMAILS (comma-separated; unset: not mailed) at
# DOCUID_OPS_REPORT_TIME (UTC) daily, and weekly on Mondays. Mail goes through
# Django's SMTP backend (EMAIL_HOST...), or the console in development.

DOCUID_ALERTMANAGER_WEBHOOK_TOKEN = env("DOCUID_ALERTMANAGER_WEBHOOK_TOKEN")
DOCUID_OPS_EMAILS = env_list("DOCUID_OPS_EMAILS")
DOCUID_OPS_REPORT_TIME = env("DOCUID_OPS_REPORT_TIME", "06:00")
DOCUID_OPS_REPORT_HOUR, DOCUID_OPS_REPORT_MINUTE = _hh_mm("DOCUID_OPS_REPORT_TIME", DOCUID_OPS_REPORT_TIME)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "DocuID <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)

# --- Celery -----------------------------------------------------------------
# With no broker, tasks run eagerly in the calling process (development).

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", REDIS_URL) or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    # Eager tasks still open a producer; an in-memory transport keeps kombu from
    # reaching for amqp://localhost (the host part only keeps it from warning that none was given).
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}
# Expired pending login requests count as failed authentications once swept.
CELERY_BEAT_SCHEDULE["accounts-sweep-login-requests"] = {
    "task": "accounts.tasks.login_requests_sweep",
    "schedule": 60.0,
}
# The audit trail: events are plain inserts, sealed into hash-linked batches by audit.tasks.seal
# every AUDIT_SEAL_INTERVAL seconds; an event unsealed for longer than AUDIT_SEAL_MAX_DELAY is
# reported by audit_verify and the DocuIDAuditSealingBehind alert (docs/OPERATIONS_GUIDE.md).
AUDIT_SEAL_INTERVAL = env_int("AUDIT_SEAL_INTERVAL", 5)
AUDIT_SEAL_MAX_DELAY = env_int("AUDIT_SEAL_MAX_DELAY", 60)
AUDIT_SEAL_BATCH_MAX = env_int("AUDIT_SEAL_BATCH_MAX", 5000)
AUDIT_SEAL_MAX_BATCHES_PER_RUN = 40
CELERY_BEAT_SCHEDULE["audit-seal"] = {
    "task": "audit.tasks.seal",
    "schedule": float(AUDIT_SEAL_INTERVAL),
    "options": {"expires": AUDIT_SEAL_INTERVAL},  # a queue of missed runs is one run's work
}
# The audit trail's hash chain is re-verified daily; a broken link logs ERROR.
CELERY_BEAT_SCHEDULE["audit-verify-chain"] = {
    "task": "audit.tasks.verify_chain",
    "schedule": crontab(hour=3, minute=17),
}
# Daily full backup (then retention and verification), weekly recovery drill (operations/tasks.py).
CELERY_BEAT_SCHEDULE["operations-backup"] = {
    "task": "operations.tasks.backup_scheduled",
    "schedule": crontab(hour=DOCUID_BACKUP_HOUR, minute=DOCUID_BACKUP_MINUTE),
}
# A replica that was down when a backup ran gets its copy later; every copy is read back weekly.
CELERY_BEAT_SCHEDULE["operations-backup-replicas-retry"] = {
    "task": "operations.tasks.backup_replicas_retry_scheduled",
    "schedule": crontab(minute=40),
}
CELERY_BEAT_SCHEDULE["operations-backup-replicas-verify"] = {
    "task": "operations.tasks.backup_replicas_verify_scheduled",
    "schedule": crontab(day_of_week="sat", hour=3, minute=45),
}
CELERY_BEAT_SCHEDULE["operations-recovery-drill"] = {
    "task": "operations.tasks.recovery_drill_scheduled",
    "schedule": crontab(
        day_of_week=DOCUID_RECOVERY_DRILL_WEEKDAY, hour=DOCUID_RECOVERY_DRILL_HOUR, minute=DOCUID_RECOVERY_DRILL_MINUTE
    ),
}
# Ops reports (auth rates, opens, incidents with MTTA/MTTR, backups) mailed to DOCUID_OPS_EMAILS: daily and Mondays.
CELERY_BEAT_SCHEDULE["operations-ops-report-daily"] = {
    "task": "operations.tasks.ops_report_scheduled",
    "schedule": crontab(hour=DOCUID_OPS_REPORT_HOUR, minute=DOCUID_OPS_REPORT_MINUTE),
    "kwargs": {"period": "daily"},
}
CELERY_BEAT_SCHEDULE["operations-ops-report-weekly"] = {
    "task": "operations.tasks.ops_report_scheduled",
    "schedule": crontab(day_of_week="mon", hour=DOCUID_OPS_REPORT_HOUR, minute=DOCUID_OPS_REPORT_MINUTE),
    "kwargs": {"period": "weekly"},
}
# The status page nginx serves when the app does not answer is re-published every minute.
CELERY_BEAT_SCHEDULE["operations-status-publish"] = {
    "task": "operations.tasks.status_publish",
    "schedule": 60.0,
    "options": {"expires": 55},
}
CELERY_WORKER_METRICS_PORT = env_int("CELERY_WORKER_METRICS_PORT", 9808)
# A worker keeps its processes' metrics in CELERY_WORKER_PROMETHEUS_MULTIPROC_DIR (default
# $DOCUID_VAR_DIR/prometheus-worker; read by docuid/celery.py before Django starts).
# Beat sends a heartbeat task every DOCUID_BEAT_HEARTBEAT_SECONDS (docuid/worker_metrics.py);
# it expires unsent after one period, so a stalled worker does not run a backlog of them.
DOCUID_BEAT_HEARTBEAT_SECONDS = env_int("DOCUID_BEAT_HEARTBEAT_SECONDS", 60)
CELERY_BEAT_SCHEDULE["docuid-beat-heartbeat"] = {
    "task": "docuid.beat_heartbeat",
    "schedule": float(DOCUID_BEAT_HEARTBEAT_SECONDS),
    "options": {"expires": DOCUID_BEAT_HEARTBEAT_SECONDS},
}
# Beat logs every entry it sends (JSON) and keeps its schedule file under the var dir, not the code.
CELERY_BEAT_SCHEDULER = "docuid.celery:LoggingScheduler"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Worker and beat log through LOGGING (JSON, PII masked), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Metrics ----------------------------------------------------------------
# /metrics is open in development; in production only to METRICS_ALLOWED_IPS
# or to a scraper presenting `Authorization: Bearer $METRICS_TOKEN`.

METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1" if DEBUG else "")
METRICS_TOKEN = env("METRICS_TOKEN")
# Where the runbooks are published (e.g. https://git.example.com/docuid/-/blob/main/docs/runbooks/):
# `manage.py prometheus_rules` joins it to the rules' relative runbook links at deploy time.
DOCUID_RUNBOOK_BASE_URL = env("DOCUID_RUNBOOK_BASE_URL")
PROMETHEUS_EXPORT_MIGRATIONS = False
PROMETHEUS_METRIC_NAMESPACE = ""
# PROMETHEUS_MULTIPROC_DIR belongs to the web process (deploy/gunicorn.conf.py sets it). Empty
# means unset, as everywhere; set, the directory is created before any metric opens a file in it.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip():
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
else:
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"].strip()).mkdir(parents=True, exist_ok=True)

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
        "client_error": {"()": "docuid.logging.ClientErrorFilter"},
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
        # django.security.* (a client's bad request): WARNING without a traceback.
        "security": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": DOCUID_LOG_FORMAT,
            "filters": ["client_error", "request", "pii"],
        },
    },
    "root": {"handlers": ["stdout"], "level": DOCUID_LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["stdout"], "level": DOCUID_LOG_LEVEL, "propagate": False},
        # Request errors are logged by our middleware with the request id.
        "django.request": {"handlers": ["stdout"], "level": "ERROR", "propagate": False},
        "django.security": {"handlers": ["security"], "level": "WARNING", "propagate": False},
        "django.server": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
        "django.db.backends": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
        "celery": {"handlers": ["stdout"], "level": DOCUID_LOG_LEVEL, "propagate": False},
        # pikepdf announces its C++ log bridge at INFO whenever it is imported (every command).
        "pikepdf": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
    },
}
# Error reports (the DEBUG page, error emails) hide connection strings and URL passwords too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "docuid.error_reports.CredentialHidingExceptionReporterFilter"

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
    # The webhook is exempt for Alertmanager on the same host, which posts to the ops listener
    # (127.0.0.1:8001, Procfile `ops`) in plain HTTP with its bearer token; from outside, nginx
    # only forwards it over HTTPS.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$", r"^ops/alertmanager/webhook$"]
    SECURE_HSTS_SECONDS = env_int("DOCUID_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env_bool("DOCUID_BEHIND_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        USE_X_FORWARDED_HOST = True
# How many reverse proxies (each appending to X-Forwarded-For) stand in front of gunicorn:
# the client address is the entry that many from the right (docuid.middleware.TrustedProxyMiddleware).
# Default 1 with DOCUID_BEHIND_PROXY=1 (nginx), else 0 (the header is ignored).
DOCUID_TRUSTED_PROXY_HOPS = env_int("DOCUID_TRUSTED_PROXY_HOPS", 1 if env_bool("DOCUID_BEHIND_PROXY", False) else 0)

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

# --- API (issue 5): tokens, API clients, rate limits, OpenAPI, CORS ------------
# /api/... and /api/docuid/... serve the Office add-in's contract, /api/v1/ the
# versioned API (docs/API.md). Access tokens live DOCUID_API_ACCESS_TOKEN_SECONDS,
# refresh tokens DOCUID_API_REFRESH_TOKEN_SECONDS; rates are "N/min" (or /s, /h).
# The biometric endpoints need an x-api-key of an active API client
# (`manage.py apiclient_create`) unless DOCUID_API_REQUIRE_KEY=0. CORS allows
# exactly the active clients' origins, with credentials (api/cors.py).

DOCUID_API_ACCESS_TOKEN_SECONDS = env_int("DOCUID_API_ACCESS_TOKEN_SECONDS", 24 * 3600)
DOCUID_API_REFRESH_TOKEN_SECONDS = env_int("DOCUID_API_REFRESH_TOKEN_SECONDS", 7 * 24 * 3600)
DOCUID_API_REQUIRE_KEY = env_bool("DOCUID_API_REQUIRE_KEY", True)
# The add-in contract answers 404 for an unknown number; 0 keeps unknown numbers pending until they expire.
DOCUID_API_REVEAL_UNKNOWN_NUMBERS = env_bool("DOCUID_API_REVEAL_UNKNOWN_NUMBERS", True)
DOCUID_API_MAX_BODY_BYTES = env_int("DOCUID_API_MAX_BODY_BYTES", 64 * 1024)
DOCUID_API_CONTENT_MAX_MB = env_int("DOCUID_API_CONTENT_MAX_MB", 25)  # base64 content for Office insertion
DOCUID_API_LINK_SECONDS = env_int("DOCUID_API_LINK_SECONDS", 300)  # the short-lived download link of /access
DOCUID_API_RATES = {
    "auth": env("DOCUID_API_RATE_AUTH", "5/min"),  # starting a login, refreshing a token
    "poll": env("DOCUID_API_RATE_POLL", "60/min"),  # auth-result / verify polling (every 2 s)
    "list": env("DOCUID_API_RATE_LIST", "60/min"),  # lists, search, details
    "content": env("DOCUID_API_RATE_CONTENT", "30/min"),  # content, download, access links
    "default": env("DOCUID_API_RATE_DEFAULT", "120/min"),  # me, logout, share
}
REST_FRAMEWORK |= {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "api.authentication.CookieTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],  # JSON bounded in size and depth
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "URL_FORMAT_OVERRIDE": None,  # ?format= is the contract's content format (text/html/office), not a renderer
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DocuID API",
    "DESCRIPTION": "The Office add-in compatibility surface (/api/...) and the versioned API (/api/v1/). "
    "See docs/API.md.",
    "VERSION": DOCUID_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No deep links: Swagger UI puts each one inside the operation's toggle button (nested controls, axe).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "PREPROCESSING_HOOKS": ["api.schema.exclude_dev_prefix"],
}
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOWED_ORIGINS: list[str] = []  # the active API clients' origins are allowed by api/cors.py
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "x-api-key", "x-claim-secret", "x-requested-with"]
CORS_EXPOSE_HEADERS = [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
    "Content-Disposition",
    "X-Request-ID",
]
