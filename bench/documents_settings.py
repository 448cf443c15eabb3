"""Settings for bench/documents.py: production settings plus one bare JSON view to compare against."""

from docuid.settings import *  # noqa: F403

ROOT_URLCONF = "bench.documents_urls"
