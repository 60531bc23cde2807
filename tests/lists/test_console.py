"""The recipient-list pages as members use them: lists, addresses, search, export, the import steps."""

import csv
import io
from datetime import timedelta
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.audit import SYSTEM
from sending.lists.fields import clean_recipient
from sending.lists.importer import imports_purge
from sending.models import ImportFileChunk, ImportStatus, Recipient, RecipientImport, RecipientList
from sending.services import lists as service
from sending.services.suppressions import suppression_add
from tests.base import AccountTestCase
from tests.lists.helpers import csv_bytes


class ListPagesTest(AccountTestCase):
    def setUp(self):
        self.client.force_login(self.operator)
        self.recipient_list = service.list_create(account=self.account, name="News", actor=SYSTEM)

    def add(self, email: str, **fields) -> Recipient:
        custom = fields.pop("custom", {})
        return service.recipient_add(
            recipient_list=self.recipient_list, clean=clean_recipient(email, fields, custom), actor=SYSTEM
        )

    def list_url(self, name: str = "sending:recipient_list", *args) -> str:
        return self.url(name, self.recipient_list.public_id, *args)

    def test_create_a_list_with_errors_for_duplicates_and_the_limit(self):
        page = self.client.post(
            self.url("sending:recipient_lists"), {"name": "VIP", "alias": "vip@example.com"}
        )
        created = RecipientList.objects.get(name="VIP")
        self.assertRedirects(page, self.url("sending:recipient_list", created.public_id))
        again = self.client.post(self.url("sending:recipient_lists"), {"name": "VIP"})
        self.assertContains(again, "There is already a list named VIP.", status_code=400)
        self.account.max_recipient_lists = 2
        self.account.save()
        full = self.client.post(self.url("sending:recipient_lists"), {"name": "Third"})
        self.assertContains(full, "2 of 2", status_code=400)
        self.assertEqual(self.account.recipient_lists.count(), 2)
        self.assertContains(self.client.get(self.url("sending:recipient_lists")), "VIP")

    def test_add_an_address_with_fields_and_refuse_bad_ones(self):
        page = self.client.post(
            self.list_url(),
            {"email": "li@example.org", "user_name": "李雷", "custom": "City=杭州\nLevel=gold"},
        )
        self.assertRedirects(page, self.list_url())
        li = Recipient.objects.get()
        self.assertEqual((li.user_name, li.custom), ("李雷", {"City": "杭州", "Level": "gold"}))
        for data, error in (
            ({"email": "LI@example.org"}, "is in this list already"),
            ({"email": "nope"}, "nope is not a valid address."),
            ({"email": "x@example.org", "custom": "no equals sign"}, "Line 1: write Name=value."),
            ({"email": "x@example.org", "custom": "a-b=1"}, "a-b cannot be a field name"),
        ):
            with self.subTest(data=data):
                self.assertContains(self.client.post(self.list_url(), data), error, status_code=400)
        self.assertEqual(Recipient.objects.count(), 1)
        self.recipient_list.refresh_from_db()
        self.assertEqual(self.recipient_list.recipient_count, 1)

    def test_search_by_address_and_field_with_suppressed_addresses_flagged(self):
        self.add("li@example.org", user_name="Li Lei", custom={"City": "Hangzhou"})
        self.add("han@example.org", user_name="Han Meimei")
        suppression_add(account=self.account, address="han@example.org", actor=SYSTEM)
        page = self.client.get(self.list_url())
        self.assertContains(page, "suppressed", count=1)
        for query, found, hidden in (
            ("han@", "han@example.org", "li@example.org"),
            ("hangzhou", "li@", "han@"),
        ):
            with self.subTest(query=query):
                page = self.client.get(self.list_url(), {"q": query})
                self.assertContains(page, found)
                self.assertNotContains(page, hidden)

    def test_edit_and_remove_one_address(self):
        li = self.add("li@example.org")
        self.add("han@example.org")
        edit = self.list_url("sending:recipient_edit", li.pk)
        self.assertContains(self.client.get(edit), "li@example.org")
        clash = self.client.post(edit, {"email": "HAN@example.org"})
        self.assertContains(clash, "is in this list already")
        self.assertRedirects(
            self.client.post(edit, {"email": "li.lei@example.org", "mobile": "138"}), self.list_url()
        )
        li.refresh_from_db()
        self.assertEqual((li.email, li.mobile), ("li.lei@example.org", "138"))
        delete = self.list_url("sending:recipient_delete", li.pk)
        self.assertContains(self.client.get(delete), "Remove li.lei@example.org from News?")
        self.client.post(delete)
        self.assertFalse(Recipient.objects.filter(pk=li.pk).exists())
        self.recipient_list.refresh_from_db()
        self.assertEqual(self.recipient_list.recipient_count, 1)

    def test_bulk_delete_asks_first(self):
        chosen = [self.add(f"user{n}@example.org").pk for n in range(3)]
        self.add("keep@example.org")
        url = self.list_url("sending:recipients_bulk_delete")
        confirm = self.client.post(url, {"ids": chosen})
        self.assertContains(confirm, "Remove 3 addresses from News?")
        self.assertEqual(Recipient.objects.count(), 4)
        self.client.post(url, {"ids": chosen, "confirm": "1"})
        self.assertEqual(list(Recipient.objects.values_list("email", flat=True)), ["keep@example.org"])
        self.recipient_list.refresh_from_db()
        self.assertEqual(self.recipient_list.recipient_count, 1)

    def test_export_is_excel_friendly_and_escapes_formulas(self):
        self.add("li@example.org", user_name="=HYPERLINK(1)", custom={"City": "杭州"})
        self.add("han@example.org", mobile="+8613800000000", custom={"Note": "@home"})
        response = self.client.get(self.list_url("sending:recipient_list_export"))
        body = b"".join(response.streaming_content).decode("utf-8")
        self.assertTrue(body.startswith("\ufeff"))
        rows = list(csv.reader(io.StringIO(body[1:])))
        self.assertEqual(
            rows[0], ["Email", "UserName", "NickName", "Gender", "Birthday", "Mobile", "City", "Note"]
        )
        by_email = {row[0]: row for row in rows[1:]}
        self.assertEqual(by_email["li@example.org"][1], "'=HYPERLINK(1)")
        self.assertEqual(by_email["li@example.org"][6], "杭州")
        self.assertEqual(by_email["han@example.org"][5], "'+8613800000000")
        self.assertEqual(by_email["han@example.org"][7], "'@home")

    def test_a_viewer_may_look_but_not_change(self):
        self.add("li@example.org")
        self.client.force_login(self.viewer)
        page = self.client.get(self.list_url())
        self.assertContains(page, "li@example.org")
        self.assertNotContains(page, "Add an address")
        self.client.post(self.list_url(), {"email": "new@example.org"})
        self.assertEqual(Recipient.objects.count(), 1)
        self.assertEqual(self.client.get(self.list_url("sending:recipient_import_upload")).status_code, 403)

    def test_a_row_as_template_sample_data(self):
        self.add("li@example.org", user_name="李雷", custom={"City": "杭州"})
        self.add("han@example.org", user_name="韩梅梅")
        url = self.list_url("sending:recipient_list_sample")
        self.assertEqual(self.client.get(url).json()["variables"]["UserName"], "韩梅梅")  # the newest
        chosen = self.client.get(url, {"email": "LI@example.org"}).json()["variables"]
        self.assertEqual(
            chosen,
            {"EAddr": "li@example.org", "UserName": "李雷", "NickName": "", "Gender": "", "Birthday": "",
             "Mobile": "", "City": "杭州"},
        )  # fmt: skip
        self.assertIn("No such address", self.client.get(url, {"email": "x@example.org"}).json()["error"])

    def test_delete_a_list_after_confirming(self):
        self.add("li@example.org")
        url = self.list_url("sending:recipient_list_delete")
        self.assertContains(self.client.get(url), "Delete the list News and its 1 addresses?")
        self.client.post(url)
        self.assertFalse(RecipientList.objects.exists())
        self.assertFalse(Recipient.objects.exists())


class ImportPagesTest(AccountTestCase):
    def setUp(self):
        self.client.force_login(self.operator)
        self.recipient_list = service.list_create(account=self.account, name="News", actor=SYSTEM)

    def test_a_file_larger_than_the_room_left_is_warned_of_and_its_end_is_not_a_green_done(self):
        self.account.max_recipients_per_list = 2
        self.account.save(update_fields=["max_recipients_per_list"])
        rows = [["email"], *([f"r{n}@example.org"] for n in range(3))]
        upload = SimpleUploadedFile("big.csv", csv_bytes(rows))
        self.client.post(
            self.url("sending:recipient_import_upload", self.recipient_list.public_id), {"file": upload}
        )
        recipient_import = RecipientImport.objects.get()
        mapping_url = self.url("sending:recipient_import_mapping", recipient_import.public_id)
        page = self.client.get(mapping_url)
        self.assertContains(page, "This file has about 3 rows, and the list has room for 2 more")
        form = {"encoding": "utf-8", "delimiter": ",", "has_header": "on", "mode": "add", "col_0": "email",
                "start": "1"}  # fmt: skip
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(mapping_url, form)
        page = self.client.get(self.url("sending:recipient_import", recipient_import.public_id))
        self.assertContains(page, "alert-warning")
        self.assertContains(page, "0 invalid, 1 over the list")
        self.assertNotContains(page, "alert-success")

    def test_upload_map_import_and_download_the_rejected_rows(self):
        rows = [
            ["邮箱", "姓名", "城市"],
            ["li@example.org", "李雷", "杭州"],
            ["bad", "x", "y"],
            ["LI@example.org", "", ""],
        ]
        upload = SimpleUploadedFile("客户.csv", csv_bytes(rows, encoding="gbk"))
        page = self.client.post(
            self.url("sending:recipient_import_upload", self.recipient_list.public_id), {"file": upload}
        )
        recipient_import = RecipientImport.objects.get()
        mapping_url = self.url("sending:recipient_import_mapping", recipient_import.public_id)
        self.assertRedirects(page, mapping_url)
        page = self.client.get(mapping_url)
        self.assertContains(page, "杭州")  # the preview, decoded
        self.assertContains(page, '<option value="gb18030" selected>')
        form = {
            "encoding": "gb18030",
            "delimiter": ",",
            "has_header": "on",
            "mode": "add",
            "col_0": "email",
            "col_1": "user_name",
            "col_2": "custom",
            "name_2": "City",
            "start": "1",
        }
        with self.captureOnCommitCallbacks(execute=True):
            page = self.client.post(mapping_url, form)
        detail_url = self.url("sending:recipient_import", recipient_import.public_id)
        self.assertRedirects(page, detail_url)
        page = self.client.get(detail_url)
        self.assertContains(page, "Done, but not every address is in the list: 1 invalid, 0 over the list")
        self.assertContains(page, "Download the 2 rows not imported")
        status = self.client.get(
            self.url("sending:recipient_import_status", recipient_import.public_id)
        ).json()
        self.assertEqual((status["status"], status["active"], status["progress"]), ("done", False, 100))
        li = Recipient.objects.get()
        self.assertEqual((li.user_name, li.custom), ("李雷", {"City": "杭州"}))
        report = self.client.get(self.url("sending:recipient_import_rejected", recipient_import.public_id))
        lines = b"".join(report.streaming_content).decode("utf-8-sig").splitlines()
        self.assertEqual(lines[0], "Row,Reason,邮箱,姓名,城市")
        self.assertEqual(lines[2], "4,The same address as row 2.,LI@example.org,,")

    def test_reading_again_with_another_delimiter_and_a_bad_mapping(self):
        data = b"Email;Name\nli@example.org;Li\n"
        page = self.client.post(
            self.url("sending:recipient_import_upload", self.recipient_list.public_id),
            {"file": SimpleUploadedFile("a.csv", data)},
        )
        recipient_import = RecipientImport.objects.get()
        mapping_url = page.url
        self.assertContains(self.client.get(mapping_url), "li@example.org</td>")
        page = self.client.post(
            mapping_url,
            {"encoding": "utf-8", "delimiter": ",", "has_header": "on", "mode": "add", "preview": "1"},
        )
        self.assertContains(page, "li@example.org;Li")  # one column now
        bad = {
            "encoding": "utf-8",
            "delimiter": ";",
            "has_header": "on",
            "mode": "add",
            "col_0": "custom",
            "name_0": "x",
            "col_1": "user_name",
            "start": "1",
        }
        self.assertContains(
            self.client.post(mapping_url, bad),
            "Choose exactly one column with the addresses.",
            status_code=400,
        )
        recipient_import.refresh_from_db()
        self.assertEqual(recipient_import.status, ImportStatus.UPLOADED)
        cancel = self.url("sending:recipient_import_cancel", recipient_import.public_id)
        self.client.post(cancel)
        recipient_import.refresh_from_db()
        self.assertEqual(recipient_import.status, ImportStatus.CANCELLED)
        self.assertFalse(recipient_import.chunks.exists())

    def test_a_tab_separated_utf16_file_through_the_form(self):
        data = csv_bytes(
            [["Email", "Nickname"], ["li@example.org", "Lei"]], encoding="utf-16", delimiter="\t"
        )
        page = self.client.post(
            self.url("sending:recipient_import_upload", self.recipient_list.public_id),
            {"file": SimpleUploadedFile("unicode.txt", data)},
        )
        mapping = self.client.get(page.url)
        self.assertContains(mapping, '<option value="\t" selected>')
        self.assertContains(mapping, '<option value="utf-16" selected>')
        form = {"encoding": "utf-16", "delimiter": "\t", "has_header": "on", "mode": "add", "start": "1"}
        form.update({"col_0": "email", "col_1": "nick_name"})
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(page.url, form)
        self.assertEqual(Recipient.objects.get().nick_name, "Lei")

    def test_old_imports_lose_their_files_but_keep_their_counts(self):
        rows = [["Email"], ["li@example.org"], ["bad"]]
        page = self.client.post(
            self.url("sending:recipient_import_upload", self.recipient_list.public_id),
            {"file": SimpleUploadedFile("a.csv", csv_bytes(rows))},
        )
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(
                page.url,
                {
                    "encoding": "utf-8",
                    "delimiter": ",",
                    "has_header": "on",
                    "mode": "add",
                    "col_0": "email",
                    "start": "1",
                },
            )
        recipient_import = RecipientImport.objects.get()
        abandoned = service.import_upload(
            recipient_list=self.recipient_list,
            upload=SimpleUploadedFile("b.csv", b"email\nx@example.org\n"),
            actor=SYSTEM,
        )
        later = timezone.now() + timedelta(days=8)
        with mock.patch("django.utils.timezone.now", return_value=later):
            self.assertEqual(imports_purge(), 2)
        self.assertFalse(ImportFileChunk.objects.exists())
        abandoned.refresh_from_db()
        self.assertEqual(abandoned.status, ImportStatus.CANCELLED)
        detail = self.client.get(self.url("sending:recipient_import", recipient_import.public_id))
        self.assertContains(detail, "deleted a week after the import")
        self.assertContains(detail, "Invalid")
        self.assertEqual(
            self.client.get(
                self.url("sending:recipient_import_rejected", recipient_import.public_id)
            ).status_code,
            404,
        )

    def test_an_empty_file_is_a_form_error(self):
        page = self.client.post(
            self.url("sending:recipient_import_upload", self.recipient_list.public_id),
            {"file": SimpleUploadedFile("empty.csv", b"\r\n")},
        )
        self.assertContains(page, "The file is empty.", status_code=400)
        self.assertFalse(RecipientImport.objects.exists())
