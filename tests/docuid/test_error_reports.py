"""Error reports (the DEBUG 500 page, error emails) never show a connection string's password (issue #12 F15)."""

import sys

import pytest
from django.test import RequestFactory
from django.views.debug import get_default_exception_reporter_filter, technical_500_response

from docuid.error_reports import CredentialHidingExceptionReporterFilter, mask_credentials

DB_PASSWORD = "db-Pa55-s3cret"
REDIS_PASSWORD = "redis-Pa55-s3cret"
BROKER_PASSWORD = "broker-Pa55-s3cret"
CACHE_PASSWORD = "cache-Pa55-s3cret"
PASSWORDS = (DB_PASSWORD, REDIS_PASSWORD, BROKER_PASSWORD, CACHE_PASSWORD)

LEAKY_SETTINGS = {
    "DEBUG": True,
    "DATABASE_URL": f"postgres://docuid:{DB_PASSWORD}@db.internal:5432/docuid",
    "REDIS_URL": f"redis://:{REDIS_PASSWORD}@redis.internal:6379/0",
    "CELERY_BROKER_URL": f"rediss://worker:{BROKER_PASSWORD}@redis.internal:6380/1",
    "CELERY_RESULT_BACKEND": f"redis://:{REDIS_PASSWORD}@redis.internal:6379/2",
    "DOCUID_REPLICA": {"where": f"postgresql://ro:{DB_PASSWORD}@replica.internal/docuid"},
    "DOCUID_MIRRORS": [f"https://sync:{DB_PASSWORD}@mirror.example/"],
}


def render_technical_500(**meta) -> str:
    request = RequestFactory().get("/boom", **meta)
    dsn = f"postgres://docuid:{DB_PASSWORD}@db.internal:5432/docuid"  # a frame local, as in a failed connect
    try:
        raise RuntimeError(f"could not connect to {dsn.split('@')[1]}")
    except RuntimeError:
        response = technical_500_response(request, *sys.exc_info())
    assert dsn  # keeps the local alive in the frame the page shows
    return response.content.decode()


def test_the_project_uses_the_credential_hiding_filter():
    assert isinstance(get_default_exception_reporter_filter(), CredentialHidingExceptionReporterFilter)


def test_the_debug_500_page_shows_no_connection_string_password(settings):
    # Through the settings fixture alone: mixed with @override_settings its teardown left DEBUG on for later tests.
    for name, value in LEAKY_SETTINGS.items():
        setattr(settings, name, value)
    settings.CACHES = {
        **settings.CACHES,
        "leaky": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": f"redis://:{CACHE_PASSWORD}@cache:6379/3"},
    }
    html = render_technical_500(DATABASE_URL=LEAKY_SETTINGS["DATABASE_URL"])  # runserver copies the env into META
    assert "DATABASE_URL" in html and "REDIS_URL" in html  # the page is the real one
    for password in PASSWORDS:
        assert password not in html


def test_database_and_cache_settings_keep_no_password():
    databases = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "d", "PASSWORD": DB_PASSWORD}}
    caches = {"default": {"BACKEND": "x", "LOCATION": f"redis://:{CACHE_PASSWORD}@cache:6379/3"}}
    cleanse = CredentialHidingExceptionReporterFilter().cleanse_setting
    shown = repr(cleanse("DATABASES", databases)) + repr(cleanse("CACHES", caches))
    assert DB_PASSWORD not in shown and CACHE_PASSWORD not in shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("redis://:pw1@host:6379/0", "redis://:********************@host:6379/0"),
        ("postgres://user:p@ss:w/rd@db/x", "postgres://user:********************@db/x"),
        ("host=db user=u password=pw1 dbname=x", "host=db user=u password=******************** dbname=x"),
        ("https://example.com/x?token=pw1&a=1", "https://example.com/x?token=********************&a=1"),
        ("postgres://postgres@127.0.0.1:5432/docuid", "postgres://postgres@127.0.0.1:5432/docuid"),
        ("redis://127.0.0.1:6379/3", "redis://127.0.0.1:6379/3"),
    ],
)
def test_mask_credentials_hides_passwords_and_keeps_the_rest(text, shown):
    assert mask_credentials(text) == shown


def test_harmless_settings_stay_readable():
    cleansed = CredentialHidingExceptionReporterFilter().get_safe_settings()
    assert cleansed["ROOT_URLCONF"] == "docuid.urls"
    assert cleansed["DATABASE_URL"] == CredentialHidingExceptionReporterFilter.cleansed_substitute
