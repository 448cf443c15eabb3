"""Settings for bench/documents.py's second baseline: the same bare view behind Django's standard middleware only.

The first baseline (/bench/baseline under bench.documents_settings) carries DocuID's whole
request spine — metrics, request ids, access log, CSP, CORS, sessions, OTP — so every
ratio against it hides that spine's cost. This one is what `startproject` gives, so the
bench can report each page against both and the spine's own cost is visible (issue #16).
"""

from bench.documents_settings import *  # noqa: F403

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
