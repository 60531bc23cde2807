"""The SMTP tests' server: smtpd in a background thread on free loopback ports, an account with a verified
sender that has an SMTP password, and delivery in mx mode to a loopback sink (found through a test DNS)."""

import smtplib
import ssl
from dataclasses import dataclass

import pytest
from django.test import override_settings

from accounts.audit import SYSTEM
from accounts.models import Account
from accounts.services import user_signup
from sending.models import SenderAddress
from sending.services.senders import sender_address_create, sender_address_set_smtp_password
from sending.smtp import tls
from sending.smtp.server import SmtpServer
from tests.dnsserver import DnsServer
from tests.sending.helpers import verified_domain
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
    _user, account, _created = user_signup(
        email="smtp@example.com", password=None, account_name="Smtp", actor=SYSTEM
    )
    domain = verified_domain(account, "mail.example.com")
    sender = sender_address_create(
        account=account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
    )
    sender_address_set_smtp_password(sender=sender, password=PASSWORD, actor=SYSTEM)
    with SmtpSink() as sink, DnsServer() as dns:
        dns.add(DEST, "MX", "10 mx.dest.test")
        dns.add("mx.dest.test", "A", "127.0.0.1")
        with override_settings(DELIVERY_MODE="mx", MX_PORT=sink.port, SMTP_TIMEOUT=5):
            server = SmtpServer(host="127.0.0.1", starttls_ports=[0], tls_ports=[0], plaintext_auth_ports=[])
            with server.running():
                yield Smtp(server, sink, account, sender)
