"""Settings for the test suite: directmail's own settings, made fast and self-contained.

DATABASE_URL still chooses the database, so the same suite runs on SQLite and PostgreSQL.
"""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-" + "k" * 50)
os.environ.setdefault("Q_SYNC", "true")  # tasks run inline unless a test is about the queue
# The test receivers (SMTP sinks) listen on loopback; processes the tests start inherit this too.
os.environ.setdefault("DELIVERY_ALLOW_PRIVATE", "true")

from directmail.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Plain HTTP on loopback: the live server and the browser tests do not speak TLS.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = True
PUBLIC_BASE_URL = "http://testserver"

if DATABASE_IS_SQLITE:  # noqa: F405
    # A file, like the embedded default, not shared-cache memory: WAL, busy timeout and IMMEDIATE
    # transactions then behave in the tests (threads, the live server) as they do in production.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}  # noqa: F405

# Live-server and thread tests open connections in threads that end: close them at the end of each request,
# or PostgreSQL cannot drop the test database afterwards ("being accessed by other users").
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
