"""Fixtures of the sending tests."""

import pytest
from django.test import override_settings

from sending import providers, shaping, tls_policy
from tests.dnsserver import DnsServer
from tests.smtpsink import SmtpSink


@pytest.fixture
def mx():
    """mx mode with one sink on loopback as the MX of two Google-hosted domains (workspace.example,
    gmail.com) and of elsewhere.example (provider "other:elsewhere.example"), through the test DNS
    server; yields the sink."""
    providers._cache.clear()
    shaping._clear_rules()
    tls_policy.clear_memo()
    with SmtpSink() as sink, DnsServer() as dns:
        for domain, host in (
            ("workspace.example", "aspmx.l.google.com"),
            ("gmail.com", "gmail-smtp-in.l.google.com"),
            ("elsewhere.example", "mx.elsewhere.example"),
        ):
            dns.add(domain, "MX", f"10 {host}")
            dns.add(host, "A", "127.0.0.1")
        with override_settings(DELIVERY_MODE="mx", MX_PORT=sink.port, SMTP_TIMEOUT=5, EGRESS_HOST="worker-a"):
            yield sink
    providers._cache.clear()
