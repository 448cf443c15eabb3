"""What Django's error reports (DEBUG page, error emails) may show of settings, request META and frame locals.

Django hides settings whose names look secret (KEY, TOKEN, PASS...) but printed
DATABASE_URL and REDIS_URL in clear (issue #12 F15), and a URL's password hides
in values whose names look harmless (CACHES' LOCATION, CELERY_BROKER_URL).
"""

import re

from django.views.debug import SafeExceptionReporterFilter

# Django's own list, plus connection strings: anything named like a URL, DSN, broker,
# backend or cache location may carry credentials. Whole words between underscores,
# so ROOT_URLCONF and CORS_URLS_REGEX stay readable.
HIDDEN_SETTINGS = re.compile(
    r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL"
    r"|(?:^|_)(?:URL|DSN|BROKER|BACKEND|LOCATION)(?:_|$)",
    flags=re.IGNORECASE,
)
# scheme://user:PASSWORD@host — the password runs to the last @ of the token (an unescaped @ in it).
_URL_PASSWORD = re.compile(r"(?P<keep>\b[a-z][a-z0-9+.\-]*://[^\s:/?#@]*:)[^\s]*(?=@)", flags=re.IGNORECASE)
# ...?password=... and friends in a query string or a libpq keyword DSN.
_PARAM_SECRET = re.compile(r"(?P<keep>(?:^|[?&;\s])(?:password|passwd|pwd|token|secret)=)[^&;\s]*", re.IGNORECASE)
MAX_DEPTH = 8  # how deep frame locals' containers are searched for URLs


def mask_credentials(text: str, substitute: str = SafeExceptionReporterFilter.cleansed_substitute) -> str:
    """`text` with the password of any URL in it (and password=... parameters) replaced by `substitute`.

    Trap: lazy strings pass isinstance(str) but not re; they come back unchanged unless they hold a secret.
    """
    plain = str(text)
    masked = _PARAM_SECRET.sub(
        lambda m: m["keep"] + substitute, _URL_PASSWORD.sub(lambda m: m["keep"] + substitute, plain)
    )
    return text if masked == plain else masked


class CredentialHidingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Hides connection-string settings by name and URL passwords in every value shown."""

    hidden_settings = HIDDEN_SETTINGS

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            return mask_credentials(cleansed, self.cleansed_substitute)
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        return [(name, self._mask(value)) for name, value in super().get_traceback_frame_variables(request, tb_frame)]

    def _mask(self, value, depth: int = 0):
        # Frame locals: strings, and the plain containers the page prints whole (a settings_dict, a config).
        if isinstance(value, str):
            return mask_credentials(value, self.cleansed_substitute)
        if depth >= MAX_DEPTH:
            return value
        if type(value) is dict:
            return {key: self._mask(item, depth + 1) for key, item in value.items()}
        if type(value) in (list, tuple):
            return type(value)(self._mask(item, depth + 1) for item in value)
        return value
