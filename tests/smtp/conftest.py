"""The SMTP tests' server: smtpd in a background thread on free loopback ports, an account with a verified
sender that has an SMTP password, and delivery in mx mode to a loopback sink (found through a test DNS)."""

import smtplib
import ssl
from dataclasses import dataclass

import pytest
from django.test import override_settings

from accounts.models import Account
from sending.models import SenderAddress
from sending.smtp import tls
from sending.smtp.server import SmtpServer
from tests.dnsserver import DnsServer
from tests.sending.helpers import smtp_sender
from tests.smtpsink import SmtpSink

PASSWORD = "smtp-Password-2026"
DEST = "dest.test"


@dataclass
class Smtp:
    server: SmtpServer
    sink: SmtpSink
    account: Account
    sender: SenderAddress

    @property
    def port(self) -> int:
        return self.server.bound["starttls"][0]

    @property
    def tls_port(self) -> int:
        return self.server.bound["tls"][0]

    def client(self, *, login: bool = True, password: str = PASSWORD) -> smtplib.SMTP:
        """STARTTLS, and AUTH as the sender unless told not to."""
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=10)
        client.starttls(context=client_tls())
        if login:
            client.login(self.sender.address, password)
        return client


def client_tls() -> ssl.SSLContext:
    """Trusts the server's generated certificate (its name is not 127.0.0.1, so no host name check)."""
    cert, _key = tls.certificate_files()
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    return context


@pytest.fixture
def smtp(db):
    sender = smtp_sender("smtp@example.com", PASSWORD)
    account = sender.account
    with SmtpSink() as sink, DnsServer() as dns:
        dns.add(DEST, "MX", "10 mx.dest.test")
        dns.add("mx.dest.test", "A", "127.0.0.1")
        with override_settings(DELIVERY_MODE="mx", MX_PORT=sink.port, SMTP_TIMEOUT=5):
            server = SmtpServer(host="127.0.0.1", starttls_ports=[0], tls_ports=[0], plaintext_auth_ports=[])
            with server.running():
                yield Smtp(server, sink, account, sender)
