"""directmail settings, read from the environment with django-environ.

Every knob is an environment variable (README lists them). ENV_FILE names a file of NAME=value lines to
read as well (the units' /etc/directmail/env, for commands run by hand); else a `.env` file in the project
root is read when present; variables already in the environment win. `<NAME>_FILE` variants are accepted
for secrets (SECRET_KEY_FILE, DATABASE_URL_FILE, ...).

Embedded default: SQLite in DATA_DIR and the django-q2 ORM broker. At scale: DATABASE_URL=postgres://...
and REDIS_URL=redis://... (broker and cache).
"""

import json
import os
import secrets
import socket
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_env_file = os.environ.get("ENV_FILE")
if _env_file:
    # django-environ skips a file it cannot open in silence: running on defaults instead is worse.
    if not (Path(_env_file).is_file() and os.access(_env_file, os.R_OK)):
        raise ImproperlyConfigured(f"ENV_FILE names {_env_file}, which is not a readable file.")
    environ.Env.read_env(_env_file)
elif (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")


def _secret(name: str, default: str | None = None) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (container and systemd secrets)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    return env.str(name, default=default)


DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)


def _persistent_secret_key() -> str:
    """A self-hosted install gets a random key kept in DATA_DIR, so nobody runs on a published default."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret("SECRET_KEY") or _persistent_secret_key()


def _persistent_encryption_key() -> str:
    path = DATA_DIR / "encryption_key"
    if not path.exists():
        from cryptography.fernet import Fernet

        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()


# Keys that encrypt secrets at rest (API key secrets, DKIM private keys): comma-separated Fernet keys, the
# first encrypts, all decrypt. Generated once into DATA_DIR when unset. Back it up with the database.
ENCRYPTION_KEYS = [k.strip() for k in (_secret("ENCRYPTION_KEYS") or _persistent_encryption_key()).split(",")]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The public address of the web process, used in links inside emails (invitations, tracking, unsubscribe).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_q",
    "django_prometheus",
    "directmail.apps.DirectmailConfig",
    "accounts",
    "templates_app",
    "sending",
    "stats",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.ContentSecurityPolicyMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Every HTML page's Content-Security-Policy (accounts.middleware); empty sends none.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https: http:; font-src 'self'; connect-src 'self'; frame-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'",
)

ROOT_URLCONF = "directmail.urls"
WSGI_APPLICATION = "directmail.wsgi.application"

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
                "accounts.context_processors.console",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------

DATABASES = {
    "default": env.db_url_config(
        _secret("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
    )
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Durable and lock-free under web + worker + smtpd: WAL, fsync on commit, writers take the lock at BEGIN
    # (no "database is locked" from a read lock upgraded mid-transaction), and wait rather than fail.
    _db["ENGINE"] = "directmail.db.sqlite3"  # writers queue on a file lock: see directmail/db/sqlite3/base.py
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=30),
        "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"),
    }
# Persistent connections: the django-q2 ORM broker was ten times slower without them.
_db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
_db["CONN_HEALTH_CHECKS"] = True
DATABASE_IS_SQLITE = _db["ENGINE"] == "directmail.db.sqlite3"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and task queue -----------------------------------------------------------------------------------

REDIS_URL = _secret("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Shared by every process (web, worker, smtpd); process memory would not be.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "directmail_cache"}
    }

Q_CLUSTER = {
    "name": "directmail",
    "label": _("Task queue"),
    # Delivery waits on other mail servers as much as it computes: two workers per core keep both busy.
    "workers": env.int("Q_WORKERS", default=2 * (os.cpu_count() or 1)),
    # A task is killed after `timeout` seconds; the broker hands an unacknowledged task out again after
    # `retry` seconds. retry <= timeout would run a slow task twice at once: a system check refuses that.
    "timeout": env.int("Q_TIMEOUT", default=300),
    "retry": env.int("Q_RETRY", default=360),
    # A task that keeps killing its worker is given up after this many attempts (django-q2 issue #327).
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=5),
    "ack_failures": True,
    # Schedules missed while the cluster was down run once, not once per missed slot.
    "catch_up": False,
    # Several clusters on one SQLite database: run the scheduler in one (Q_SCHEDULER=false in the others).
    "scheduler": env.bool("Q_SCHEDULER", default=True),
    "save_limit": env.int("Q_SAVE_LIMIT", default=1000),
    "sync": env.bool("Q_SYNC", default=False),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = env.float("Q_POLL", default=0.5)

# --- Accounts and auth ------------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
# Invitations to join an account stay valid this long.
INVITATION_MAX_AGE_DAYS = env.int("INVITATION_MAX_AGE_DAYS", default=7)

# Account limits and quotas: DirectMail's defaults, overridable as JSON, e.g.
# DIRECTMAIL_DEFAULT_LIMITS='{"daily_quota": 5000}'. Staff edit them per account in Django admin.
DIRECTMAIL_DEFAULT_LIMITS = {
    "max_domains": 5,
    "max_sender_addresses": 10,
    "sender_address_deletions_personal": 5,
    "sender_address_deletions_enterprise": 10,
    "max_tags": 10,
    "max_recipient_lists": 10,
    "max_recipients_per_list": 10_000,
    "max_templates": 10,
    "daily_quota": 2_000,
    "free_daily_sends": 200,
    "validation_daily_quota": 5_000,
    "validation_monthly_quota": 50_000,
}
DIRECTMAIL_DEFAULT_LIMITS.update(json.loads(env.str("DIRECTMAIL_DEFAULT_LIMITS", default="{}")))
# The weekly reputation review (stats.reputation) moves each account's daily quota between these levels.
QUOTA_LEVELS = env.list(
    "QUOTA_LEVELS", cast=int, default=[200, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000]
)
QUOTA_FLOOR = env.int("QUOTA_FLOOR", default=200)
QUOTA_CEILING = env.int("QUOTA_CEILING", default=20_000)
REPUTATION = {
    "min_requests": 100,
    "up_delivery": 0.95, "up_invalid": 0.02, "up_complaint": 0.001, "up_usage": 0.5,
    "down_delivery": 0.85, "down_invalid": 0.05, "down_complaint": 0.003,
}  # fmt: skip
# Webhooks (sending.netguard): private, loopback and other internal targets are refused unless allowed (an
# on-premise install whose receivers live on the internal network); plain http only in development.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
# mx mode (sending.netguard): mail servers at loopback, private and other internal addresses (a recipient
# domain whose MX names 127.0.0.1) are never connected to, unless allowed (on-premise receivers).
DELIVERY_ALLOW_PRIVATE = env.bool("DELIVERY_ALLOW_PRIVATE", default=False)
# /metrics (directmail.metrics): clients from these networks, or with "Authorization: Bearer METRICS_TOKEN".
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
METRICS_TOKEN = _secret("METRICS_TOKEN", default="")
# prometheus-client turns multiprocess mode on when the variable merely exists, and an empty one would scatter
# its files into the working directory: an empty PROMETHEUS_MULTIPROC_DIR means "one process, in memory".
if "PROMETHEUS_MULTIPROC_DIR" in os.environ and not os.environ["PROMETHEUS_MULTIPROC_DIR"].strip():
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]
# Message bodies (and Outbox copies) are kept this long after the mail was accepted; 0 keeps them forever.
MESSAGE_CONTENT_RETENTION_DAYS = env.int("MESSAGE_CONTENT_RETENTION_DAYS", default=30)
# Delivered and failed webhook events (with their attempts) are kept this long for the console and replay.
WEBHOOK_EVENT_RETENTION_DAYS = env.int("WEBHOOK_EVENT_RETENTION_DAYS", default=30)
# Redis stream endpoints (when REDIS_URL is set) keep about this many entries each (XADD MAXLEN ~).
EVENTS_STREAM_MAXLEN = env.int("EVENTS_STREAM_MAXLEN", default=100_000)
# The largest recipient file the console takes for an import (it is kept in the database until applied).
LIST_IMPORT_MAX_BYTES = env.int("LIST_IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
# The uploaded files one account's imports may keep at once (waiting for their columns, or running); a file
# is deleted as soon as its import is done, failed, cancelled or abandoned (a day without its columns).
LIST_IMPORT_MAX_STORED_BYTES = env.int("LIST_IMPORT_MAX_STORED_BYTES", default=50 * 1024 * 1024)

# --- Sending (used by the delivery engine) ----------------------------------------------------------------

DELIVERY_MODE = env.str("DELIVERY_MODE", default="capture")  # capture | relay | mx
SMTP_RELAY_URL = _secret("SMTP_RELAY_URL", default="")
SMTP_RELAY_VERIFY_TLS = env.bool("SMTP_RELAY_VERIFY_TLS", default=True)
MX_PORT = env.int("MX_PORT", default=25)
SMTP_TIMEOUT = env.float("SMTP_TIMEOUT", default=60)
# The wait for the receiver's answer to the end of a message (RFC 5321 4.5.3.2.6: 10 minutes), at most half
# the lease: a message given up on there may have been taken, and would be sent again.
SMTP_DATA_TIMEOUT = env.float("SMTP_DATA_TIMEOUT", default=600)
SMTP_HELO_NAME = env.str("SMTP_HELO_NAME", default="")  # the machine's FQDN when empty
# The machine a worker runs on, as egress addresses name it (manage.py egress_ip): a worker sends only from
# the addresses of its own host.
EGRESS_HOST = env.str("EGRESS_HOST", default=socket.gethostname())
# DNS blocklists the egress check asks about each sending address.
EGRESS_DNSBL_ZONES = env.list(
    "EGRESS_DNSBL_ZONES", default=["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org"]
)
# Retries of temporary failures, like Postfix: 5 minutes doubling up to an hour, give up after 5 days.
DELIVERY_RETRY_FIRST = env.int("DELIVERY_RETRY_FIRST", default=300)
DELIVERY_RETRY_MAX = env.int("DELIVERY_RETRY_MAX", default=3600)
DELIVERY_GIVE_UP = env.int("DELIVERY_GIVE_UP", default=5 * 24 * 3600)
# A worker holds the messages it claimed this long from its last renewal; then another worker takes them.
DELIVERY_LEASE = env.int("DELIVERY_LEASE", default=600)
# A worker renews its leases at least every third of this while it sends; a lease not renewed for this long
# no longer counts as a session to its domain (its worker died), so other workers may open one at once.
DELIVERY_SESSION_ALIVE = env.int("DELIVERY_SESSION_ALIVE", default=30)
DELIVERY_BATCH = env.int("DELIVERY_BATCH", default=100)
# A message whose lease ran out this often (its worker died each time) is failed instead of retried.
DELIVERY_MAX_LOST_LEASES = env.int("DELIVERY_MAX_LOST_LEASES", default=3)
# Per destination domain: concurrent SMTP sessions and messages per second per session ("*" is the default).
# In mx mode a domain served by a known mailbox provider (sending.providers) is shaped by the provider's
# limits instead of "*" (a Google Workspace domain is Gmail's mail); an entry of its own still applies.
DELIVERY_DOMAIN_LIMITS = {"*": {"connections": 2, "per_second": 10}}
DELIVERY_DOMAIN_LIMITS.update(json.loads(env.str("DELIVERY_DOMAIN_LIMITS", default="{}")))
# Per mailbox provider x egress address in mx mode, over the shipped ones of sending.provider_limits:
# {"gmail": {"connections": 20, "per_hour": 50000}, "qq@203.0.113.5": {"per_minute": 100}, "*": {...}}.
DELIVERY_PROVIDER_LIMITS = json.loads(env.str("DELIVERY_PROVIDER_LIMITS", default="{}"))
# Bounce categories (sending.feedback): a mailbox full this many times in 30 days is suppressed (0: never);
# this many reputation, blocklist or policy refusals at one provider in a day warn the account (0: never).
# Complaints (sending.complaints): the local part of each sending domain's feedback-loop address
# (fbl@<domain>, taken by manage.py smtpd), and the stable sender id ending every Feedback-ID header.
FEEDBACK_LOCAL_PART = env.str("FEEDBACK_LOCAL_PART", default="fbl")
FEEDBACK_SENDER_ID = env.str("FEEDBACK_SENDER_ID", default="directmail")
# DMARC aggregate reports (sending.reports): the local part of the rua address the proposed DMARC record
# names (dmarc-reports@<domain>, taken by manage.py smtpd), and the networks that send the company's mail
# besides our egress addresses (a relay, its own mail servers: "192.0.2.0/24,2001:db8::/32"), marked as
# ours in the reports.
# Address validation's SMTP probe (sending.validation_probe): the egress address probes leave from (one of
# this host's; empty: the system's), the MAIL FROM they give, and the providers never probed (they accept
# every recipient at RCPT, or forbid probing): those answer UNKNOWN.
# make bench's API baseline view (/bench/insert, one INSERT per call); never set in production.
BENCH_VIEWS = env.bool("BENCH_VIEWS", default=False)
# SpamAssassin's spamd for templates' spam scores (templates_app.spam): spamd://host:port; empty: none.
SPAMD_URL = env.str("SPAMD_URL", default="")
SPAMD_TIMEOUT = env.float("SPAMD_TIMEOUT", default=15.0)
VALIDATION_FILE_MAX_BYTES = env.int("VALIDATION_FILE_MAX_BYTES", default=20 * 1024 * 1024)  # SendValidateFile
VALIDATION_PROBE_EGRESS = env.str("VALIDATION_PROBE_EGRESS", default="")
VALIDATION_PROBE_FROM = env.str("VALIDATION_PROBE_FROM", default="")
VALIDATION_NO_PROBE_PROVIDERS = env.list("VALIDATION_NO_PROBE_PROVIDERS", default=["yahoo", "apple"])
# ValidateEmail with CheckGraylist: a greylisted probe is asked again after each of these (seconds); the
# answer, or the last try's, goes out as dm:Validator:GrayListResult.
VALIDATION_GRAYLIST_RETRY_SECONDS = env.list(
    "VALIDATION_GRAYLIST_RETRY_SECONDS", cast=int, default=[300, 600, 1200, 2400]
)
DMARC_REPORT_LOCAL_PART = env.str("DMARC_REPORT_LOCAL_PART", default="dmarc-reports")
DMARC_OUR_NETWORKS = env.list("DMARC_OUR_NETWORKS", default=[])
BOUNCE_MAILBOX_FULL_SUPPRESS_AFTER = env.int("BOUNCE_MAILBOX_FULL_SUPPRESS_AFTER", default=3)
BOUNCE_WARNING_AFTER = env.int("BOUNCE_WARNING_AFTER", default=10)
DELIVERY_ACCOUNT_PER_SECOND = env.int("DELIVERY_ACCOUNT_PER_SECOND", default=100)  # 0: no limit
# DNS lookups (domain verification, MX): "host:port" nameservers, the system resolver when empty.
DNS_NAMESERVERS = env.list("DNS_NAMESERVERS", default=[])
DNS_TIMEOUT = env.float("DNS_TIMEOUT", default=5.0)
# The resolver validates DNSSEC (a local unbound, say): trust its AD bit, so that DANE TLSA records
# (sending.tls_policy) count. Off by default: an AD bit from a resolver across the network proves nothing.
DNS_DNSSEC_VALIDATING = env.bool("DNS_DNSSEC_VALIDATING", default=False)
# MTA-STS (sending.tls_policy): the HTTPS port its policies are fetched from (443; tests use another).
MTA_STS_PORT = env.int("MTA_STS_PORT", default=443)
_public_host = PUBLIC_BASE_URL.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
if not any(c.isalpha() for c in _public_host) or "." not in _public_host:
    _public_host = "directmail.test"  # a development address (an IP or localhost) has no DNS of its own
# What a sending domain's SPF record must include: a record the operator publishes listing the sending IPs.
SPF_INCLUDE = env.str("SPF_INCLUDE", default=f"spf.{_public_host}")
# Where bounces for sending domains are received (their optional MX record points here).
BOUNCE_MX_HOST = env.str("BOUNCE_MX_HOST", default=f"mx.{_public_host}")
# TLS-RPT (sending.tlsrpt). Our daily reports to recipient domains that ask for them: the organization and
# domain they come from, a contact, and the sender address (of a verified domain with DKIM, so that they
# are signed) they are mailed from; without one, only https destinations get them. Reports about our
# domains come to tls-reports@<domain> (the local part below), named by the proposed _smtp._tls record.
TLSRPT_ORGANIZATION = env.str("TLSRPT_ORGANIZATION", default="directmail")
TLSRPT_SUBMITTER = env.str("TLSRPT_SUBMITTER", default=_public_host)
TLSRPT_CONTACT = env.str("TLSRPT_CONTACT", default=f"postmaster@{_public_host}")
TLSRPT_SENDER = env.str("TLSRPT_SENDER", default="")
TLSRPT_LOCAL_PART = env.str("TLSRPT_LOCAL_PART", default="tls-reports")
# API sending calls (SingleSendMail, BatchSendMail) per account and second; over it: Throttling.User.
API_SEND_RATE_PER_SECOND = env.int("API_SEND_RATE_PER_SECOND", default=100)
# A request's body as Django reads it (the API's HtmlBody and TextBody are up to 8 MB each, as DirectMail's,
# and form encoding can triple non-ASCII text); larger requests get DirectMail's InvalidBody.TooLarge.
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024
# Proxies whose X-Forwarded-For is believed when finding a client's IP (addresses or CIDRs).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# --- The SMTP submission server (manage.py smtpd) ------------------------------------------------------

SMTPD_HOST = env.str("SMTPD_HOST", default="127.0.0.1")
# Ports offering STARTTLS (production: 25, 587 and 80, comma-separated) and implicit TLS (production: 465).
SMTPD_PORT = [int(p) for p in env.list("SMTPD_PORT", default=["2525"]) if p]
SMTPD_TLS_PORT = [int(p) for p in env.list("SMTPD_TLS_PORT", default=["4650"]) if p]
# PEM files; when empty, a self-signed certificate is generated into DATA_DIR on first start (development).
SMTPD_TLS_CERT = env.str("SMTPD_TLS_CERT", default="")
SMTPD_TLS_KEY = env.str("SMTPD_TLS_KEY", default="")
# STARTTLS ports on which AUTH is allowed before TLS. Risky: passwords cross the network readable.
SMTPD_PLAINTEXT_AUTH_PORTS = [int(p) for p in env.list("SMTPD_PLAINTEXT_AUTH_PORTS", default=[]) if p]
SMTPD_MAX_MESSAGE_SIZE = env.int("SMTPD_MAX_MESSAGE_SIZE", default=15 * 1024 * 1024)
SMTPD_MAX_RECIPIENTS = env.int("SMTPD_MAX_RECIPIENTS", default=100)
# Failed AUTH: per connection (then 421 and close), and per client IP within SMTPD_AUTH_FAILURE_WINDOW s.
SMTPD_AUTH_FAILURES_PER_CONNECTION = env.int("SMTPD_AUTH_FAILURES_PER_CONNECTION", default=3)
SMTPD_AUTH_FAILURES_PER_IP = env.int("SMTPD_AUTH_FAILURES_PER_IP", default=20)
SMTPD_AUTH_FAILURE_WINDOW = env.int("SMTPD_AUTH_FAILURE_WINDOW", default=900)
# Failed console log-ins and password confirmations: per login (email) and per client IP within
# LOGIN_FAILURE_WINDOW s; then the form refuses until the window ends, and the audit log says so.
LOGIN_FAILURES_PER_USER = env.int("LOGIN_FAILURES_PER_USER", default=10)
LOGIN_FAILURES_PER_IP = env.int("LOGIN_FAILURES_PER_IP", default=30)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=900)
# The name in the greeting and our Received headers (the machine's FQDN when empty).
SMTPD_HOSTNAME = env.str("SMTPD_HOSTNAME", default="")
# The host name users configure in their mail clients (shown in the console).
SMTPD_PUBLIC_HOST = env.str(
    "SMTPD_PUBLIC_HOST", default=PUBLIC_BASE_URL.split("://", 1)[-1].split("/")[0].rsplit(":", 1)[0]
)
SMTPD_DB_THREADS = env.int("SMTPD_DB_THREADS", default=8)  # threads that talk to the database

# --- Email the console itself sends (invitations, password reset, alerts) ------------------------------

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="directmail <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalization ---------------------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
FORMAT_MODULE_PATH = ["directmail.formats"]  # our zh_Hans number grouping (directmail/formats)
USE_TZ = True
TIME_ZONE = "UTC"
# The time zone a new account starts in; each account has its own and every time is shown in it.
DEFAULT_ACCOUNT_TIME_ZONE = env.str("DEFAULT_ACCOUNT_TIME_ZONE", default="Asia/Shanghai")

# --- Static files -----------------------------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"  # filled by `manage.py collectstatic` for production
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security ---------------------------------------------------------------------------------------------
# In production (DEBUG=false) HTTPS is assumed: behind a proxy, set SECURE_PROXY_SSL_HEADER_NAME (usually
# HTTP_X_FORWARDED_PROTO) so Django knows the original scheme. `manage.py check --deploy` is clean.

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
_proxy_header = env.str("SECURE_PROXY_SSL_HEADER_NAME", default="")
if _proxy_header:
    SECURE_PROXY_SSL_HEADER = (_proxy_header, "https")

# --- Logging ----------------------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # aiosmtpd logs every SMTP command at INFO under "mail.log": far too much for a mail server.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "mail.log": {"level": "WARNING"}},
}
