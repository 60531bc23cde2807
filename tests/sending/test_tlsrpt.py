"""TLS-RPT (RFC 8460): our daily report of a day's sessions to a domain that asks for one, mailed
(multipart/report, DKIM-signed) and POSTed over HTTPS, in a JSON format parsedmarc reads; and the reports
other senders (Google's format) send about our domains, kept once and shown on the domain's page."""

import email
import gzip
from datetime import timedelta
from email.policy import default as default_policy

import dkim
import parsedmarc
import pytest
from django.test import override_settings
from django.utils import timezone

from sending import tlsrpt
from sending.models import CapturedMessage, MtaStsPolicy, TlsOutcome, TlsReport, TlsReportDelivery
from sending.reports import apply_report
from tests.dnsserver import DnsServer
from tests.fileserver import FileServer
from tests.sending.helpers import smtp_sender
from tests.sending.test_dmarc_reports import SAMPLES, report_mail

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "secure.example"


@pytest.fixture
def outcomes():
    day = timezone.now().date() - timedelta(days=1)
    text = "version: STSv1\nmode: enforce\nmx: mx.secure.example\nmax_age: 86400\n"
    expires = timezone.now() + timedelta(days=1)
    MtaStsPolicy.objects.create(domain=DOMAIN, policy_id="1", mode="enforce", mx=["mx.secure.example"],
                                max_age=86400, text=text, expires_at=expires)  # fmt: skip
    common = {"day": day, "domain": DOMAIN, "mx_host": "mx.secure.example", "receiving_ip": "192.0.2.9"}
    TlsOutcome.objects.create(**common, policy_type="sts", result="success", count=10)
    TlsOutcome.objects.create(**common, policy_type="sts", result="certificate-expired", count=2,
                              sending_ip="203.0.113.5", detail="certificate has expired")  # fmt: skip
    TlsOutcome.objects.create(day=day, domain="quiet.example", policy_type="no-policy-found",
                              mx_host="mx.quiet.example", result="success", count=4)  # fmt: skip
    return day


@override_settings(DELIVERY_MODE="capture", TLSRPT_SENDER="noreply@mail.example.com",
                   TLSRPT_SUBMITTER="directmail.example", WEBHOOK_ALLOW_PRIVATE=True)  # fmt: skip
def test_a_days_report_is_mailed_signed_and_posted_once(outcomes, tmp_path, monkeypatch):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    with DnsServer() as dns, FileServer() as files:
        monkeypatch.setenv("SSL_CERT_FILE", str(files.ca_file))
        files.add("/tlsrpt", b"", "text/plain")
        dns.add(
            f"_smtp._tls.{DOMAIN}",
            "TXT",
            f"v=TLSRPTv1; rua=mailto:tlsrpt@reports.example,{files.base}/tlsrpt",
        )
        assert tlsrpt.send_reports(outcomes) == {"sent": 2, "failed": 0, "skipped": 0}
        # quiet.example publishes nothing: it gets no report. A second run sends nothing again.
        assert tlsrpt.send_reports(outcomes) == {"sent": 0, "failed": 0, "skipped": 2}
    ((_path, headers, body),) = files.posted
    assert headers["Content-Type"] == "application/tlsrpt+gzip"
    report = parsedmarc.parse_smtp_tls_report_json(gzip.decompress(body))
    assert report["organization_name"] == "directmail"
    (policy,) = report["policies"]
    assert (policy["policy_type"], policy["policy_domain"]) == ("sts", DOMAIN)
    assert (policy["successful_session_count"], policy["failed_session_count"]) == (10, 2)
    assert policy["policy_strings"][1] == "mode: enforce"
    (failure,) = policy["failure_details"]
    assert (failure["result_type"], failure["sending_mta_ip"], failure["failed_session_count"]) == (
        "certificate-expired", "203.0.113.5", 2)  # fmt: skip
    captured = CapturedMessage.objects.get(message__rcpt="tlsrpt@reports.example")
    raw = bytes(captured.raw)
    mail = email.message_from_bytes(raw, policy=default_policy)
    assert mail.get_content_type() == "multipart/report" and mail.get_param("report-type") == "tlsrpt"
    assert mail["TLS-Report-Domain"] == DOMAIN and mail["TLS-Report-Submitter"] == "directmail.example"
    (attachment,) = [p for p in mail.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
    assert attachment.get_filename().startswith(f"directmail.example!{DOMAIN}!")
    assert parsedmarc.parse_smtp_tls_report_json(gzip.decompress(attachment.get_content()))["report_id"]
    key = sender.domain.active_dkim_key()
    record = f"v=DKIM1; k=rsa; p={key.public_key}".encode()
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record)
    assert TlsReportDelivery.objects.filter(sent=True).count() == 2


def test_without_a_sender_mailto_destinations_wait_and_say_why(outcomes):
    with DnsServer() as dns:
        dns.add(f"_smtp._tls.{DOMAIN}", "TXT", "v=TLSRPTv1; rua=mailto:tlsrpt@reports.example")
        assert tlsrpt.send_reports(outcomes)["failed"] == 1
    assert "TLSRPT_SENDER" in TlsReportDelivery.objects.get().error


def google_report(domain: str) -> bytes:
    return (SAMPLES / "google_tlsrpt.json").read_bytes().replace(b"mail.acme.example", domain.encode())


def test_reports_about_our_domains_are_kept_once_and_shown(client):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    name = "google.com!mail.example.com!1795824000!1795910399!001.json.gz"
    body = gzip.compress(google_report("mail.example.com"))
    mail = report_mail("noreply-smtp-tls-reporting@google.com", "Report Domain: mail.example.com", name, body,
                       ("application", "tlsrpt+gzip"))  # fmt: skip
    result = apply_report(mail, envelope_to="tls-reports@mail.example.com")
    assert result.kind == "tlsrpt"
    assert result.applied == ["TLS report 2026-11-28T00:00:00Z_mail.example.com from Google Inc.: "
                              "25 sessions to mail.example.com"]  # fmt: skip
    assert apply_report(google_report("mail.example.com")).ignored[0].endswith("already received")
    assert apply_report(google_report("stranger.example")).ignored[0].endswith("is not a domain of ours")
    stored = TlsReport.objects.get()
    assert (stored.successful, stored.failed, stored.domain_id) == (23, 2, sender.domain.pk)
    client.force_login(sender.account.memberships.first().user)
    page = client.get(f"/a/{sender.account.public_id}/domains/{sender.domain.public_id}/reports/?days=90")
    assert page.context["tls"]["failures"] == [
        {
            "reporter": "Google Inc.",
            "result": "certificate-expired",
            "mx": "mx.directmail.example",
            "sessions": 2,
        }
    ]
    assert b"tls-reports@mail.example.com" in page.content


def test_microsofts_report_without_a_policy_is_read_too():
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    raw = (SAMPLES / "microsoft_tlsrpt.json").read_bytes().replace(b"mail.acme.example", b"mail.example.com")
    result = apply_report(gzip.compress(raw))
    assert result.applied == ["TLS report 133773472000000000+mail.example.com from Microsoft Corporation: "
                              "42 sessions to mail.example.com"]  # fmt: skip
    stored = TlsReport.objects.get(domain=sender.domain)
    assert (stored.successful, stored.failed) == (41, 1)
    assert stored.policies[0]["failure_details"][0]["result_type"] == "starttls-not-supported"
