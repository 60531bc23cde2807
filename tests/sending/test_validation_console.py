"""Address validation in the console: one address, an uploaded file and a recipient list validated in the
worker, the breakdown and the result CSV, and removing what is invalid from the list (confirmed, audited)."""

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.audit import SYSTEM
from accounts.models import AuditEntry
from sending.models import RecipientImport, Suppression, ValidationJob
from sending.services.lists import list_create, recipients_save
from tests.base import AccountTestCase
from tests.dnsserver import DnsServerMixin


class ValidationConsoleTests(DnsServerMixin, AccountTestCase):
    def setUp(self):
        super().setUp()
        self.dns.add("dest.example", "MX", "10 mx.dest.example")
        self.client.force_login(self.operator)

    def test_one_address_and_the_quota_it_costs(self):
        page = self.client.post(self.url("sending:validation"), {"check": "1", "email": "ann@gmial.com"})
        self.assertContains(page, "<code data-status>INVALID</code>", html=True)
        self.assertContains(page, "Did you mean ann@gmail.com?")
        page = self.client.post(self.url("sending:validation"), {"check": "1", "email": "ann@dest.example"})
        self.assertContains(page, "<code data-sub-status>UNSPECIFIED</code>", html=True)
        self.assertContains(page, "1 of 5000 today")  # two thirds, a started check counts

    def test_an_uploaded_file_shows_its_breakdown_and_results(self):
        rows = (
            b"name,email\nAnn,ann@dest.example\nBob,bob@gmial.com\nCy,info@dest.example\n"
            + b"Ann,ann@dest.example\n"
        )
        upload = SimpleUploadedFile("people.csv", rows)
        form = {
            "upload": "1",
            "file": upload,
            "address_column": "2",
            "has_header_row": "on",
            "remove_duplicate": "on",
        }
        with self.captureOnCommitCallbacks(execute=True):  # the worker's task, run here
            response = self.client.post(self.url("sending:validation"), form)
        job = ValidationJob.objects.get()
        self.assertRedirects(response, self.url("sending:validation_detail", job.file_id))
        page = self.client.get(self.url("sending:validation_detail", job.file_id))
        self.assertContains(page, '<div class="fs-4" data-total="VALID">1</div>', html=True)
        self.assertContains(page, '<div class="fs-4" data-total="INVALID">1</div>', html=True)
        self.assertContains(page, '<div class="fs-4" data-total="DONOTMAIL">1</div>', html=True)
        result = self.client.get(self.url("sending:validation_result", job.file_id))
        self.assertEqual(
            result.content.decode().splitlines()[:2],
            ["name,email,Status,SubStatus,Suggestion", "Ann,ann@dest.example,VALID,UNSPECIFIED,"],
        )
        viewer = self.client_class()
        viewer.force_login(self.viewer)  # a viewer sees it, and cannot start one
        self.assertEqual(viewer.get(self.url("sending:validation_detail", job.file_id)).status_code, 200)
        self.assertNotContains(viewer.get(self.url("sending:validation")), 'id="upload-form"')

    def test_a_list_is_validated_and_its_invalid_addresses_removed_after_confirming(self):
        members = list_create(account=self.account, name="members", actor=SYSTEM)
        addresses = ["ann@dest.example", "bob@gmial.com", "temp@mailinator.com", "cy@nowhere.example"]
        recipients_save(recipient_list=members, details=[{"e": a} for a in addresses], actor=SYSTEM)
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(self.url("sending:recipient_list_validate", members.public_id))
        job = ValidationJob.objects.get(recipient_list=members)
        page = self.client.get(self.url("sending:validation_detail", job.file_id))
        self.assertContains(page, "Remove 3 invalid and do-not-mail addresses from the list")
        remove = self.url("sending:validation_remove_invalid", job.file_id)
        self.assertContains(
            self.client.get(remove), "Remove 3 invalid and do-not-mail addresses from members?"
        )
        self.assertEqual(members.recipients.count(), 4)  # nothing before the confirmation
        self.client.post(remove)
        self.assertEqual(list(members.recipients.values_list("email", flat=True)), ["ann@dest.example"])
        self.assertTrue(AuditEntry.objects.filter(action="recipient.delete", account=self.account).exists())
        self.assertTrue(AuditEntry.objects.filter(action="validation.start", account=self.account).exists())

    def test_deleting_a_validation_asks_first(self):
        empty = list_create(account=self.account, name="l", actor=SYSTEM)
        self.client.post(self.url("sending:recipient_list_validate", empty.public_id))
        job = ValidationJob.objects.get()
        delete = self.url("sending:validation_delete", job.file_id)
        self.assertContains(self.client.get(delete), "Delete the validation of l?")
        self.client.post(delete)
        job.refresh_from_db()
        self.assertEqual(job.state, "deleted")
        self.assertEqual(self.client.get(self.url("sending:validation_detail", job.file_id)).status_code, 404)

    def test_an_import_can_validate_the_list_when_it_is_done(self):
        members = list_create(account=self.account, name="members", actor=SYSTEM)
        upload = SimpleUploadedFile("m.csv", b"email\nann@dest.example\nbob@gmial.com\n")
        self.client.post(self.url("sending:recipient_import_upload", members.public_id), {"file": upload})
        recipient_import = RecipientImport.objects.get()
        mapping = self.url("sending:recipient_import_mapping", recipient_import.public_id)
        self.assertContains(self.client.get(mapping), "Validate the list&#x27;s addresses after the import")
        form = {"encoding": "utf-8", "delimiter": ",", "has_header": "on", "mode": "add", "col_0": "email",
                "validate_after": "on", "start": "1"}  # fmt: skip
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(mapping, form)
        job = ValidationJob.objects.get(recipient_list=members)
        self.assertEqual((job.state, job.total, job.counts.get("INVALID")), ("completed", 2, 1))

    def test_a_files_addresses_are_checked_against_the_suppression_list(self):
        Suppression.objects.create(account=self.account, address="gone@dest.example", reason="hard_bounce")
        Suppression.objects.create(account=self.account, address="angry@dest.example", reason="complaint")
        upload = SimpleUploadedFile("s.csv", b"Gone@Dest.Example\nangry@dest.example\nann@dest.example\n")
        with self.captureOnCommitCallbacks(execute=True):
            form = {"upload": "1", "file": upload, "address_column": "1"}
            self.client.post(self.url("sending:validation"), form)
        job = ValidationJob.objects.get()
        expected = {"INVALID": 1, "INVALID/MAILBOX_NOT_EXISTS": 1, "DONOTMAIL": 1, "DONOTMAIL/SUPPRESSED": 1,
                    "VALID": 1, "VALID/UNSPECIFIED": 1}  # fmt: skip
        self.assertEqual(job.counts, expected)
