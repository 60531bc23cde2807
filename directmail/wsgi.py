"""WSGI entry point for the web process (gunicorn directmail.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "directmail.settings")

application = get_wsgi_application()
