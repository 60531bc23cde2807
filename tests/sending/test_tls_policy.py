"""TLS policy in mx mode, against real parts on loopback: MTA-STS policies from a local HTTPS server with a
test CA, sinks whose certificate is and is not valid for the MX name, DANE with the test DNS server
setting the AD bit and TLSA records that match and do not; every attempt records its TLS, and every session
its outcome for TLS-RPT."""

import hashlib
import ssl
from contextlib import contextmanager

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.test import override_settings
from django.urls import reverse

from accounts.models import Membership
from sending import tls_policy
from sending.api.actions.reports import _last_tls
from sending.models import DeliveryAttempt, MessageState, MtaStsPolicy, TlsOutcome
from tests.dnsserver import DnsServer
from tests.fileserver import CertAuthority, FileServer
from tests.sending.helpers import send, smtp_sender
from tests.smtpsink import SmtpSink

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN, MX = "secure.example", "mx.secure.example"
POLICY = "version: STSv1\nmode: {mode}\nmx: {mx}\nmax_age: 86400\n"


class World:
    """The test DNS server, the CA, the MTA-STS policy server; `sink(...)` starts the MX."""

    def __init__(self, dns: DnsServer, ca: CertAuthority, files: FileServer):
        self.dns, self.ca, self.files = dns, ca, files

    def publish_sts(self, mode: str = "enforce", mx: str = MX, policy_id: str = "20261201") -> None:
        self.dns.set(f"_mta-sts.{DOMAIN}", "TXT", f"v=STSv1; id={policy_id}")
        self.files.add("/.well-known/mta-sts.txt", POLICY.format(mode=mode, mx=mx).encode(), "text/plain")

    @contextmanager
    def sink(self, *names: str, expired: bool = False, starttls: bool = True, with_ca: bool = False):
        """An MX with a certificate for `names` (the MX name by default); `with_ca`: the CA's certificate
        is sent too, as servers send their intermediates."""
        context = None
        if starttls:
            cert, key, self.leaf = self.ca.issue(*(names or (MX,)), expired=expired)
            if with_ca:
                cert.write_bytes(cert.read_bytes() + self.ca.ca_file.read_bytes())
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
        with SmtpSink(tls_context=context) as sink, override_settings(MX_PORT=sink.port):
            yield sink


@pytest.fixture
def world(tmp_path, monkeypatch):
    tls_policy.clear_memo()
    ca = CertAuthority(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))  # the test CA is the one trusted
    with DnsServer() as dns, FileServer(names=(f"mta-sts.{DOMAIN}",), ca=ca) as files:
        dns.add(DOMAIN, "MX", f"10 {MX}")
        dns.add(MX, "A", "127.0.0.1")
        dns.add(f"mta-sts.{DOMAIN}", "A", "127.0.0.1")
        port = int(files.base.rsplit(":", 1)[1])
        with override_settings(DELIVERY_MODE="mx", MTA_STS_PORT=port, SMTP_TIMEOUT=5, EGRESS_HOST="worker-a"):
            yield World(dns, ca, files)
    tls_policy.clear_memo()


@pytest.fixture
def sender():
    return smtp_sender("owner@example.com", "smtp-Password-2026")


def attempt(message) -> DeliveryAttempt:
    return DeliveryAttempt.objects.filter(message=message).latest("pk")


def outcomes() -> set[tuple[str, str, str, int]]:
    return set(TlsOutcome.objects.values_list("policy_type", "mx_host", "result", "count"))


def test_enforced_mta_sts_delivers_over_a_verified_certificate_and_caches_the_policy(world, sender):
    world.publish_sts("enforce")
    with world.sink(MX) as sink:
        (message,) = send(sender, [f"ann@{DOMAIN}"])
        message.refresh_from_db()
        assert message.state == MessageState.DELIVERED and len(sink.messages) == 1
        tried = attempt(message)
        assert (tried.tls_policy, tried.tls_verified) == ("mta-sts", True)
        assert tried.tls_version.startswith("TLSv1.") and tried.tls_cipher
        # The event (and so the webhook) and the API's delivery details carry it too.
        assert message.events.get(type="delivered").detail["tls"]["policy"] == "mta-sts"
        assert _last_tls([message.pk])[message.pk]["Verified"] is True
        cached = MtaStsPolicy.objects.get(domain=DOMAIN)
        assert (cached.mode, cached.mx, cached.policy_id, cached.max_age) == (
            "enforce",
            [MX],
            "20261201",
            86400,
        )
        # The next sessions read the cached policy: fetched again only when the TXT id changes.
        tls_policy.clear_memo()
        send(sender, [f"bob@{DOMAIN}"])
        assert world.files.requests == ["/.well-known/mta-sts.txt"]
        world.publish_sts("testing", policy_id="20261202")
        tls_policy.clear_memo()
        send(sender, [f"cy@{DOMAIN}"])
        assert len(world.files.requests) == 2
        assert MtaStsPolicy.objects.get(domain=DOMAIN).mode == "testing"
    assert ("sts", MX, "success", 3) in outcomes()


def test_enforced_mta_sts_defers_a_certificate_for_another_name_and_says_why(world, sender):
    world.publish_sts("enforce")
    with world.sink("other.example") as sink:
        (message,) = send(sender, [f"ann@{DOMAIN}"])
    message.refresh_from_db()
    assert message.state == MessageState.DEFERRED and sink.messages == []
    assert message.bounce_category == "tls"
    assert (
        "4.7.5 MTA-STS of secure.example: the certificate of mx.secure.example is not valid"
        in message.last_error
    )
    assert outcomes() == {("sts", MX, "certificate-host-mismatch", 1)}


def test_enforced_mta_sts_defers_an_expired_certificate_and_a_server_without_starttls(world, sender):
    world.publish_sts("enforce")
    with world.sink(MX, expired=True):
        (expired,) = send(sender, [f"ann@{DOMAIN}"])
    tls_policy.clear_memo()
    with world.sink(starttls=False) as plain:
        (plaintext,) = send(sender, [f"bob@{DOMAIN}"])
    for message in (expired, plaintext):
        message.refresh_from_db()
        assert message.state == MessageState.DEFERRED
    assert plain.messages == []
    assert "does not offer STARTTLS" in plaintext.last_error
    assert {r for _t, _h, r, _n in outcomes()} == {"certificate-expired", "starttls-not-supported"}


def test_enforced_mta_sts_never_uses_an_mx_its_policy_does_not_name(world, sender):
    world.publish_sts("enforce", mx="*.elsewhere.example")
    with world.sink(MX) as sink:
        (message,) = send(sender, [f"ann@{DOMAIN}"])
    message.refresh_from_db()
    assert message.state == MessageState.DEFERRED and sink.messages == []
    assert "none of its MX hosts (mx.secure.example) is named by its policy" in message.last_error


def test_testing_mode_only_records_a_bad_certificate(world, sender):
    world.publish_sts("testing")
    with world.sink("other.example") as sink:
        (message,) = send(sender, [f"ann@{DOMAIN}"])
    message.refresh_from_db()
    assert message.state == MessageState.DELIVERED and len(sink.messages) == 1
    tried = attempt(message)
    assert (tried.tls_policy, tried.tls_verified) == ("mta-sts-testing", False)
    assert outcomes() == {("sts", MX, "certificate-host-mismatch", 1)}


def test_a_policy_that_cannot_be_fetched_leaves_tls_opportunistic_and_is_reported(world, sender):
    world.dns.set(f"_mta-sts.{DOMAIN}", "TXT", "v=STSv1; id=1")  # and no policy file: HTTP 404
    with world.sink("other.example") as sink:
        (message,) = send(sender, [f"ann@{DOMAIN}"])
    message.refresh_from_db()
    assert message.state == MessageState.DELIVERED and len(sink.messages) == 1
    assert (attempt(message).tls_policy, attempt(message).tls_verified) == ("opportunistic", False)
    assert ("sts", "", "sts-policy-fetch-error", 1) in outcomes()
    assert ("no-policy-found", MX, "success", 1) in outcomes()


def spki_sha256(leaf) -> str:
    spki = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


@override_settings(DNS_DNSSEC_VALIDATING=True)
def test_dane_takes_precedence_and_checks_the_certificate_against_tlsa(world, sender):
    world.publish_sts("enforce")  # DANE wins over MTA-STS: its certificate need not match the name
    tlsa = f"_25._tcp.{MX}"
    world.dns.authenticate(tlsa)
    world.dns.authenticate(DOMAIN)  # its MX answer too (RFC 7672 2.2.1)
    with world.sink("self-named.invalid") as sink:
        world.dns.set(tlsa, "TLSA", f"3 1 1 {spki_sha256(world.leaf)}")
        (good,) = send(sender, [f"ann@{DOMAIN}"])
        good.refresh_from_db()
        assert good.state == MessageState.DELIVERED and len(sink.messages) == 1
        assert (attempt(good).tls_policy, attempt(good).tls_verified) == ("dane", True)
        tls_policy.clear_memo()
        world.dns.set(tlsa, "TLSA", "3 1 1 " + "00" * 32)  # a record the certificate does not match
        (bad,) = send(sender, [f"bob@{DOMAIN}"])
    bad.refresh_from_db()
    assert bad.state == MessageState.DEFERRED and "DANE of mx.secure.example" in bad.last_error
    assert {("tlsa", MX, "success", 1), ("tlsa", MX, "validation-failure", 1)} <= outcomes()


@override_settings(DNS_DNSSEC_VALIDATING=True)
def test_tlsa_records_without_the_ad_bit_do_not_count(world, sender):
    world.dns.set(f"_25._tcp.{MX}", "TLSA", "3 1 1 " + "00" * 32)  # not authenticated: ignored
    world.dns.authenticate(DOMAIN)  # (an authenticated MX answer alone does not make them count)
    with world.sink("other.example") as sink:
        (message,) = send(sender, [f"ann@{DOMAIN}"])
    message.refresh_from_db()
    assert message.state == MessageState.DELIVERED and len(sink.messages) == 1
    assert attempt(message).tls_policy == "opportunistic"


def test_the_message_page_shows_the_tls_of_each_attempt(world, sender, client):
    world.publish_sts("enforce")
    with world.sink(MX):
        (message,) = send(sender, [f"ann@{DOMAIN}"])
    client.force_login(Membership.objects.filter(account=sender.account).first().user)
    page = client.get(reverse("sending:message_detail", args=[sender.account.public_id, message.message_id]))
    assert b"TLSv1." in page.content
    assert "MTA-STS" in page.content.decode()


@override_settings(DNS_DNSSEC_VALIDATING=True)
def test_dane_needs_the_mx_answer_authenticated_too(world, sender):
    tlsa = f"_25._tcp.{MX}"
    world.dns.set(tlsa, "TLSA", "3 1 1 " + "00" * 32)
    world.dns.authenticate(tlsa)  # the TLSA answer is, the MX answer naming the host is not
    with world.sink("other.example") as sink:
        (message,) = send(sender, [f"ann@{DOMAIN}"])
    message.refresh_from_db()
    assert message.state == MessageState.DELIVERED and len(sink.messages) == 1
    assert attempt(message).tls_policy == "opportunistic"


@override_settings(DNS_DNSSEC_VALIDATING=True)
def test_dane_ta_accepts_a_chain_from_its_anchor_to_a_certificate_for_the_mx_name(world, sender):
    tlsa = f"_25._tcp.{MX}"
    world.dns.authenticate(tlsa)
    world.dns.authenticate(DOMAIN)
    anchor = x509.load_pem_x509_certificate(world.ca.ca_file.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )
    world.dns.set(tlsa, "TLSA", f"2 0 1 {hashlib.sha256(anchor).hexdigest()}")
    with world.sink(MX, with_ca=True) as sink:
        (good,) = send(sender, [f"ann@{DOMAIN}"])
    good.refresh_from_db()
    assert good.state == MessageState.DELIVERED and len(sink.messages) == 1
    assert (attempt(good).tls_policy, attempt(good).tls_verified) == ("dane", True)
    tls_policy.clear_memo()
    with world.sink("other.example", with_ca=True) as sink:  # the anchor signed it, but for another name
        (wrong,) = send(sender, [f"bob@{DOMAIN}"])
    wrong.refresh_from_db()
    assert wrong.state == MessageState.DEFERRED and sink.messages == []
