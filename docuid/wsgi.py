"""WSGI entry point (gunicorn docuid.wsgi -c deploy/gunicorn.conf.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docuid.settings")
application = get_wsgi_application()
