"""DMARC aggregate reports as Google (a zip attached) and Microsoft (a gzip attached) send them, and as a
bare XML file: kept once per receiver and report, for the account's own domain only, and shown on the
domain's page with our sources marked and the others highlighted."""

import gzip
import io
import tempfile
import zipfile
from email.message import EmailMessage
from email.policy import SMTP
from io import StringIO
from pathlib import Path

from django.core.management import CommandError, call_command
from django.test import override_settings

from sending import domain_records
from sending.models import DmarcReport, DmarcRow, EgressAddress
from sending.reports import apply_report
from tests.base import AccountTestCase
from tests.sending.helpers import verified_domain

SAMPLES = Path(__file__).parent / "reports"
GOOGLE_NAME = "google.com!mail.acme.example!1795824000!1795910399"
MICROSOFT_NAME = "protection.outlook.com!mail.acme.example!1795824000!1795910400"


def report_mail(sender: str, subject: str, filename: str, payload: bytes, kind: tuple[str, str]) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "dmarc-reports@mail.acme.example", subject
    mail.set_content("This is an aggregate report from a receiver.")
    mail.add_attachment(payload, maintype=kind[0], subtype=kind[1], filename=filename)
    return mail.as_bytes(policy=SMTP)  # CRLF, as it travels


def google_mail() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{GOOGLE_NAME}.xml", (SAMPLES / "google.xml").read_bytes())
    return report_mail(
        "noreply-dmarc-support@google.com",
        "Report domain: mail.acme.example Submitter: google.com Report-ID: 10923785011275519937",
        f"{GOOGLE_NAME}.zip",
        buffer.getvalue(),
        ("application", "zip"),
    )


def microsoft_mail() -> bytes:
    return report_mail(
        "dmarcreport@microsoft.com",
        "Report Domain: mail.acme.example Submitter: protection.outlook.com Report-ID: <a3f9c1d2>",
        f"{MICROSOFT_NAME}.xml.gz",
        gzip.compress((SAMPLES / "microsoft.xml").read_bytes()),
        ("application", "gzip"),
    )


class DmarcReportTests(AccountTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.domain = verified_domain(cls.account)
        EgressAddress.objects.create(address="192.0.2.25", helo="out1.acme.example", host="worker-a")

    def test_the_proposed_dmarc_record_sends_reports_to_the_domain_smtpd_takes(self):
        spec = next(s for s in domain_records.records_to_publish(self.domain) if s.kind == "dmarc")
        self.assertIn("rua=mailto:dmarc-reports@mail.acme.example;", spec.value)

    def test_google_zip_and_microsoft_gzip_reports_are_kept_once(self):
        google = apply_report(google_mail(), envelope_to="dmarc-reports@mail.acme.example")
        self.assertEqual(google.domain, self.domain)
        self.assertEqual(
            google.applied, ["DMARC report 10923785011275519937 from google.com: 130 messages from 3 records"]
        )
        microsoft = apply_report(microsoft_mail(), envelope_to="dmarc-reports@mail.acme.example")
        self.assertEqual(len(microsoft.applied), 1)
        again = apply_report(google_mail())
        self.assertEqual(
            again.ignored, ["DMARC report 10923785011275519937 from google.com: already received"]
        )
        self.assertEqual(DmarcReport.objects.count(), 2)
        report = DmarcReport.objects.get(org_name="outlook.com")  # as parsedmarc writes it
        self.assertEqual((report.policy["p"], report.messages, report.begin.isoformat()),
                         ("quarantine", 45, "2026-11-28T00:00:00+00:00"))  # fmt: skip
        spoofed = DmarcRow.objects.get(source_ip="198.51.100.14")
        self.assertEqual(
            (spoofed.disposition, spoofed.dmarc_pass, spoofed.spf_aligned, spoofed.spf),
            ("quarantine", False, False, "bulk.example=pass"),
        )
        forwarded = DmarcRow.objects.get(source_ip="192.0.2.26")
        self.assertEqual(
            (forwarded.dmarc_pass, forwarded.dkim_aligned, forwarded.spf_aligned), (True, True, False)
        )

    def test_only_the_accounts_own_domains_take_reports(self):
        other = verified_domain(self.other_account, name="other.example")
        result = apply_report(google_mail(), envelope_to=f"dmarc-reports@{other.name}")
        self.assertEqual(result.ignored, ["DMARC report 10923785011275519937 from google.com: "
                                          "mail.acme.example is not a domain of ours"])  # fmt: skip
        unknown = (SAMPLES / "google.xml").read_bytes().replace(b"mail.acme.example", b"stranger.example")
        self.assertEqual(len(apply_report(unknown).ignored), 1)
        self.assertTrue(
            apply_report(b"Subject: hello\r\n\r\nnot a report\r\n").ignored[0].startswith("not a report")
        )
        self.assertFalse(DmarcReport.objects.exists())

    def test_the_management_command_reads_xml_and_compressed_files(self):
        folder = Path(tempfile.mkdtemp())
        (folder / "r.xml").write_bytes((SAMPLES / "google.xml").read_bytes())
        (folder / "r.xml.gz").write_bytes(gzip.compress((SAMPLES / "microsoft.xml").read_bytes()))
        out = StringIO()
        call_command("apply_report", str(folder / "r.xml"), stdout=out)
        call_command("apply_report", str(folder / "r.xml.gz"), stdout=out)
        self.assertEqual(out.getvalue().count("applied DMARC report"), 2)
        (folder / "bad.xml").write_bytes(b"<feedback>")
        with self.assertRaisesMessage(CommandError, "not a report"):
            call_command("apply_report", str(folder / "bad.xml"), stdout=StringIO())

    @override_settings(DMARC_OUR_NETWORKS=["192.0.2.16/28"])
    def test_the_domains_page_marks_our_sources_and_highlights_the_others(self):
        apply_report(google_mail())
        apply_report(microsoft_mail())
        self.client.force_login(self.viewer)
        detail = self.client.get(self.url("sending:domain_detail", self.domain.public_id))
        self.assertContains(detail, 'id="dmarc-reports"')
        page = self.client.get(self.url("sending:domain_reports", self.domain.public_id), {"days": 90})
        summary = page.context["summary"]
        self.assertEqual(summary.totals["messages"], 175)
        self.assertEqual(summary.totals["passed"], 163)
        self.assertEqual((summary.totals["pass_rate"], summary.totals["spf_rate"]), (93.1, 91.4))
        self.assertEqual(summary.dispositions, {"none": 170, "quarantine": 5, "reject": 0})
        sources = {s["ip"]: (s["messages"], s["ours"]) for s in summary.sources}
        self.assertEqual(sources, {"192.0.2.25": (160, True), "192.0.2.26": (3, True),  # DMARC_OUR_NETWORKS
                                   "203.0.113.99": (7, False), "198.51.100.14": (5, False)})  # fmt: skip
        self.assertEqual(summary.foreign, {"messages": 12, "sources": 2})
        self.assertContains(page, 'id="foreign-sources"')
        self.assertContains(page, '<tr data-ip="203.0.113.99" data-ours="0" class="table-warning">')
        self.assertEqual(sum(d["failed"] for d in summary.days), 12)
        self.assertContains(page, "dmarcreport@microsoft.com")
        self.assertContains(page, "dmarc-reports@mail.acme.example")

    def test_a_domain_without_reports_says_how_they_come(self):
        self.client.force_login(self.viewer)
        page = self.client.get(self.url("sending:domain_reports", self.domain.public_id), {"days": "x"})
        self.assertEqual(page.context["days"], 30)
        self.assertContains(page, 'id="no-reports"')
