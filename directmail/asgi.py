"""ASGI entry point, for servers that prefer it; the console and API are synchronous Django views."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "directmail.settings")

application = get_asgi_application()
