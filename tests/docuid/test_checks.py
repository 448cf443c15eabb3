"""check --deploy refuses a cache that would let every process count the rate limits on its own."""

import pytest
from django.core.checks import Error, Warning, run_checks

from docuid.checks import check_shared_cache
from tests.docuid.test_settings import manage, production_env

LOCMEM = "django_prometheus.cache.backends.locmem.LocMemCache"


def with_cache(settings, backend: str, *, debug: bool = False):
    settings.DEBUG = debug
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "/tmp/docuid-check-test"}}
    return check_shared_cache()


@pytest.mark.parametrize("backend", [LOCMEM, "django.core.cache.backends.dummy.DummyCache"])
def test_a_process_local_cache_is_an_error_with_debug_off(settings, backend):
    problems = with_cache(settings, backend)
    assert [(type(p), p.id) for p in problems] == [(Error, "docuid.E001")]
    assert "REDIS_URL" in problems[0].hint


def test_a_cache_that_counts_by_read_then_write_is_a_warning(settings):
    problems = with_cache(settings, "django.core.cache.backends.filebased.FileBasedCache")
    assert [(type(p), p.id) for p in problems] == [(Warning, "docuid.W001")]


def test_redis_and_development_pass(settings):
    assert with_cache(settings, "django_prometheus.cache.backends.redis.RedisCache") == []
    assert with_cache(settings, LOCMEM, debug=True) == []


def test_the_check_is_registered_for_deploy_only(settings):
    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": LOCMEM}}
    assert "docuid.E001" in [p.id for p in run_checks(include_deployment_checks=True)]
    assert "docuid.E001" not in [p.id for p in run_checks()]


def test_check_deploy_fails_in_production_without_redis(tmp_path):
    env = production_env(tmp_path)
    del env["REDIS_URL"]
    result = manage("check", "--deploy", **env)
    assert result.returncode != 0
    assert "docuid.E001" in result.stderr


def test_the_project_package_runs_its_own_app_config():
    """apps.py holds several AppConfig classes: Django must still pick DocuIDConfig, whose ready() registers the checks."""
    from django.apps import apps

    from docuid.apps import DocuIDConfig

    assert type(apps.get_app_config("docuid")) is DocuIDConfig
