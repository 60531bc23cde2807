"""Imports of the files real tools write: encodings, delimiters, quoting, headers, bad rows, limits, modes.

Every file is built here; each import runs through the services and the real task (inline), and the
counts, the list and the rejected-rows report are checked.
"""

import codecs
import csv
import io

from django.test import TestCase

from accounts.audit import SYSTEM
from accounts.errors import ServiceError
from sending.lists import files
from sending.lists.fields import clean_recipient
from sending.lists.importer import import_run
from sending.models import ImportStatus, Recipient, RecipientImport
from sending.services import lists as service
from tests.base import People
from tests.lists.helpers import ImportMixin, csv_bytes, upload

PEOPLE = [
    ["Email", "UserName", "City"],
    ["li.lei@example.org", "李雷", "杭州"],
    ["han.meimei@example.org", "韩梅梅", "北京"],
    ["lucy@example.org", "Lucy", "Shanghai"],
]


def report_rows(recipient_import: RecipientImport) -> list[list[str]]:
    data = b"".join(files.read_chunks(recipient_import, "rejected"))
    assert data.startswith(codecs.BOM_UTF8), "the report opens in Excel as UTF-8"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


class ImportFormatsTest(People, ImportMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()

    def setUp(self):
        self.recipient_list = service.list_create(account=self.account, name="News", actor=SYSTEM)

    def assert_people(self, recipient_import: RecipientImport, encoding: str, delimiter: str = ","):
        self.assertEqual(recipient_import.status, ImportStatus.DONE, recipient_import.error)
        self.assertEqual((recipient_import.encoding, recipient_import.delimiter), (encoding, delimiter))
        self.assertEqual(recipient_import.imported, 3)
        self.assertEqual(recipient_import.rejected, 0)
        li = Recipient.objects.get(email_key="li.lei@example.org")
        self.assertEqual((li.user_name, li.custom), ("李雷", {"City": "杭州"}))
        self.recipient_list.refresh_from_db()
        self.assertEqual(self.recipient_list.recipient_count, 3)

    def test_utf8_with_and_without_bom(self):
        for bom in (True, False):
            with self.subTest(bom=bom):
                Recipient.objects.all().delete()
                data = csv_bytes(PEOPLE, bom=bom)
                self.assert_people(
                    self.import_file(self.recipient_list, "people.csv", data, mode="replace"), "utf-8"
                )

    def test_gbk_from_chinese_excel(self):
        data = csv_bytes([["邮箱", "姓名", "城市"], *PEOPLE[1:]], encoding="gbk")
        recipient_import = self.import_file(
            self.recipient_list, "客户.csv", data, mapping=["email", "user_name", "custom:City"]
        )
        self.assert_people(recipient_import, "gb18030")

    def test_gbk_headers_are_guessed(self):
        data = csv_bytes(
            [["邮箱", "姓名", "手机号", "城市"], ["a@example.org", "李雷", "13800000000", "杭州"]],
            encoding="gbk",
        )
        found = service.import_preview(
            service.import_upload(
                recipient_list=self.recipient_list, upload=upload("a.csv", data), actor=SYSTEM
            )
        )
        self.assertEqual(found.guesses, ["email", "user_name", "mobile", "custom:Field4"])
        self.assertEqual(found.header, ["邮箱", "姓名", "手机号", "城市"])

    def test_utf16_unicode_text_from_excel(self):
        data = csv_bytes(PEOPLE, encoding="utf-16", delimiter="\t")  # Python writes the BOM, as Excel does
        self.assert_people(self.import_file(self.recipient_list, "people.txt", data), "utf-16", "\t")

    def test_utf16_without_bom(self):
        data = csv_bytes(PEOPLE, encoding="utf-16-le", delimiter="\t")
        self.assert_people(self.import_file(self.recipient_list, "people.txt", data), "utf-16-le", "\t")

    def test_semicolons(self):
        rows = [*PEOPLE[:3], ["lucy@example.org", "Lucy", "Shanghai, China"]]
        recipient_import = self.import_file(self.recipient_list, "people.csv", csv_bytes(rows, delimiter=";"))
        self.assert_people(recipient_import, "utf-8", ";")
        self.assertEqual(
            Recipient.objects.get(email_key="lucy@example.org").custom, {"City": "Shanghai, China"}
        )

    def test_quoted_fields_with_commas_and_newlines(self):
        rows = [
            ["Email", "UserName", "Note"],
            ["a@example.org", "Smith, John", "line one\nline two"],
            ["b@example.org", 'Say "hi"', ""],
        ]
        recipient_import = self.import_file(self.recipient_list, "q.csv", csv_bytes(rows))
        self.assertEqual(recipient_import.imported, 2)
        a = Recipient.objects.get(email_key="a@example.org")
        self.assertEqual((a.user_name, a.custom["Note"]), ("Smith, John", "line one\nline two"))
        self.assertEqual(Recipient.objects.get(email_key="b@example.org").user_name, 'Say "hi"')

    def test_headerless_txt_with_one_address_per_line_and_blank_lines(self):
        data = b"a@example.org\r\n\r\nb@example.org\n   \nc@example.org"
        recipient_import = self.import_file(self.recipient_list, "list.txt", data)
        self.assertFalse(recipient_import.has_header)
        self.assertEqual((recipient_import.imported, recipient_import.blank_lines), (3, 2))
        self.assertEqual(recipient_import.rejected, 0)

    def test_headerless_csv_guesses_the_address_column(self):
        data = csv_bytes([["Li Lei", "li@example.org", "Hangzhou"], ["Han", "han@example.org", "Beijing"]])
        found = service.import_preview(
            service.import_upload(
                recipient_list=self.recipient_list, upload=upload("a.csv", data), actor=SYSTEM
            )
        )
        self.assertFalse(found.has_header)
        self.assertEqual(found.guesses, ["custom:Field1", "email", "custom:Field3"])

    def test_duplicates_malformed_and_overlong_rows_are_counted_and_reported(self):
        rows = [
            ["Email", "UserName"],
            ["a@example.org", "A"],
            ["A@EXAMPLE.ORG", "A again"],
            ["not an address", "X"],
            ["", "no address"],
            ["b@example.org", "x" * 65],
            ["=cmd@example", "formula"],
            ["c@example.org", "C"],
        ]
        recipient_import = self.import_file(self.recipient_list, "bad.csv", csv_bytes(rows))
        counts = (recipient_import.imported, recipient_import.duplicates, recipient_import.invalid)
        self.assertEqual(counts, (2, 1, 4))
        report = report_rows(recipient_import)
        self.assertEqual(report[0], ["Row", "Reason", "Email", "UserName"])
        by_row = {row[0]: row for row in report[1:]}
        self.assertEqual(set(by_row), {"3", "4", "5", "6", "7"})
        self.assertEqual(by_row["3"][1], "The same address as row 2.")
        self.assertIn("not a valid address", by_row["4"][1])
        self.assertEqual(by_row["5"][1], "No address.")
        self.assertEqual(by_row["6"][1], "UserName is longer than 64 characters.")
        self.assertEqual(
            by_row["7"][1:], ["'=cmd@example is not a valid address.", "'=cmd@example", "formula"]
        )

    def test_a_file_over_the_list_limit_refuses_the_rows_past_it(self):
        self.account.max_recipients_per_list = 5
        self.account.save()
        service.recipient_add(
            recipient_list=self.recipient_list, clean=clean_recipient("old@example.org", {}), actor=SYSTEM
        )
        rows = [["Email"], *([f"user{n}@example.org"] for n in range(8))]
        recipient_import = self.import_file(self.recipient_list, "big.csv", csv_bytes(rows))
        self.assertEqual((recipient_import.imported, recipient_import.refused), (4, 4))
        self.recipient_list.refresh_from_db()
        self.assertEqual(self.recipient_list.recipient_count, 5)
        report = report_rows(recipient_import)
        self.assertEqual([row[0] for row in report[1:]], ["6", "7", "8", "9"])
        self.assertEqual(report[1][1], "The list is full: at most 5 addresses.")

    def test_files_that_are_not_text_or_empty_are_refused_at_upload(self):
        cases = {
            "empty.csv": (b"", "The file is empty."),
            "blank.csv": (b"\r\n  \r\n", "The file is empty."),
            "people.xlsx": (b"PK\x03\x04" + bytes(range(256)) * 4, "Excel workbook"),
            "photo.png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "not a text file"),
        }
        for name, (data, reason) in cases.items():
            with self.subTest(name=name), self.assertRaisesMessage(ServiceError, reason):
                service.import_upload(
                    recipient_list=self.recipient_list, upload=upload(name, data), actor=SYSTEM
                )
        self.assertFalse(RecipientImport.objects.exists())

    def test_choosing_an_encoding_the_file_is_not_in_is_refused(self):
        data = csv_bytes(PEOPLE, encoding="gbk")
        recipient_import = service.import_upload(
            recipient_list=self.recipient_list, upload=upload("a.csv", data), actor=SYSTEM
        )
        with self.assertRaisesMessage(ServiceError, "not valid"):
            service.import_preview(recipient_import, encoding="utf-8")


class ImportModesTest(People, ImportMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()

    def setUp(self):
        self.recipient_list = service.list_create(account=self.account, name="News", actor=SYSTEM)
        self.import_file(
            self.recipient_list,
            "first.csv",
            csv_bytes([["Email", "UserName"], ["a@example.org", "A"], ["b@example.org", "B"]]),
        )
        self.second = csv_bytes([["Email", "UserName"], ["B@example.org", "B2"], ["c@example.org", "C"]])

    def names(self) -> dict[str, str]:
        return dict(self.recipient_list.recipients.values_list("email_key", "user_name"))

    def test_add_keeps_existing_addresses_as_they_are(self):
        recipient_import = self.import_file(self.recipient_list, "second.csv", self.second, mode="add")
        self.assertEqual((recipient_import.imported, recipient_import.duplicates), (1, 1))
        self.assertEqual(self.names(), {"a@example.org": "A", "b@example.org": "B", "c@example.org": "C"})
        self.assertEqual(report_rows(recipient_import)[1][:2], ["2", "Already in the list."])

    def test_update_changes_existing_addresses(self):
        recipient_import = self.import_file(self.recipient_list, "second.csv", self.second, mode="update")
        self.assertEqual((recipient_import.imported, recipient_import.updated), (1, 1))
        self.assertEqual(self.names(), {"a@example.org": "A", "b@example.org": "B2", "c@example.org": "C"})

    def test_replace_leaves_only_the_file(self):
        recipient_import = self.import_file(self.recipient_list, "second.csv", self.second, mode="replace")
        self.assertEqual(recipient_import.imported, 2)
        self.assertEqual(self.names(), {"b@example.org": "B2", "c@example.org": "C"})
        self.recipient_list.refresh_from_db()
        self.assertEqual(self.recipient_list.recipient_count, 2)


class FailedImportTest(People, ImportMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()

    def setUp(self):
        self.recipient_list = service.list_create(account=self.account, name="News", actor=SYSTEM)
        self.import_file(self.recipient_list, "first.csv", b"email\na@example.org\n")

    def test_an_unreadable_row_fails_the_import_and_leaves_the_list_unchanged(self):
        # A field longer than csv's limit (128 KiB) stops the reader half-way through the file.
        data = b"email,note\nb@example.org,x\nc@example.org," + b"y" * 200_000 + b"\n"
        recipient_import = self.import_file(self.recipient_list, "broken.csv", data, mode="replace")
        self.assertEqual(recipient_import.status, ImportStatus.FAILED)
        self.assertIn("cannot be read", recipient_import.error)
        self.assertEqual(
            list(self.recipient_list.recipients.values_list("email", flat=True)), ["a@example.org"]
        )

    def test_an_import_marked_failed_while_running_applies_nothing(self):
        recipient_import = service.import_upload(
            recipient_list=self.recipient_list,
            upload=upload("b.csv", b"email\nb@example.org\n"),
            actor=SYSTEM,
        )
        RecipientImport.objects.filter(pk=recipient_import.pk).update(
            status=ImportStatus.QUEUED, mapping=["email"], mode="replace"
        )
        original = files.ChunkReader.readinto

        def reaped_meanwhile(reader, target):
            RecipientImport.objects.filter(pk=recipient_import.pk).update(
                status=ImportStatus.FAILED, error="reaped"
            )
            return original(reader, target)

        files.ChunkReader.readinto = reaped_meanwhile
        try:
            import_run(recipient_import.pk)
        finally:
            files.ChunkReader.readinto = original
        recipient_import.refresh_from_db()
        self.assertEqual((recipient_import.status, recipient_import.error), (ImportStatus.FAILED, "reaped"))
        self.assertEqual(
            list(self.recipient_list.recipients.values_list("email", flat=True)), ["a@example.org"]
        )

    def test_a_repeated_task_runs_the_import_once(self):
        recipient_import = self.import_file(self.recipient_list, "b.csv", b"email\nb@example.org\n")
        import_run(recipient_import.pk)  # the broker delivered the task again
        recipient_import.refresh_from_db()
        self.assertEqual((recipient_import.status, recipient_import.imported), (ImportStatus.DONE, 1))
        self.assertEqual(self.recipient_list.recipients.count(), 2)


class ImportStorageTest(People, ImportMixin, TestCase):
    """What an account keeps of uploaded files is limited, and a file goes once its import is over."""

    @classmethod
    def setUpTestData(cls):
        cls.create_people()

    def setUp(self):
        self.recipient_list = service.list_create(account=self.account, name="News", actor=SYSTEM)

    def big_file(self, rows: int = 600) -> bytes:
        return csv_bytes([["email"], *([f"u{n}@example.org"] for n in range(rows))])

    def test_uploads_waiting_for_their_columns_are_limited_per_account(self):
        data = self.big_file()
        with self.settings(LIST_IMPORT_MAX_STORED_BYTES=int(len(data) * 2.5)):
            first = service.import_upload(
                recipient_list=self.recipient_list, upload=upload("1.csv", data), actor=SYSTEM
            )
            service.import_upload(
                recipient_list=self.recipient_list, upload=upload("2.csv", data), actor=SYSTEM
            )
            with self.assertRaisesMessage(ServiceError, "of import files already, at most"):
                service.import_upload(
                    recipient_list=self.recipient_list, upload=upload("3.csv", data), actor=SYSTEM
                )
            self.assertEqual(RecipientImport.objects.count(), 2)
            # Another tenant is not affected; a cancelled upload frees its room at once.
            other_list = service.list_create(account=self.other_account, name="Theirs", actor=SYSTEM)
            service.import_upload(recipient_list=other_list, upload=upload("o.csv", data), actor=SYSTEM)
            self.assertTrue(service.import_cancel(recipient_import=first))
            service.import_upload(
                recipient_list=self.recipient_list, upload=upload("3.csv", data), actor=SYSTEM
            )

    def test_a_finished_or_failed_import_keeps_no_upload(self):
        done = self.import_file(self.recipient_list, "ok.csv", self.big_file(10))
        failed = self.import_file(
            self.recipient_list, "broken.csv", b"email,note\nb@example.org," + b"y" * 200_000 + b"\n"
        )
        self.assertEqual((done.status, failed.status), (ImportStatus.DONE, ImportStatus.FAILED))
        self.assertEqual(files.stored_uploads(self.account), 0)


class ControlCharacterTest(People, ImportMixin, TestCase):
    """A NUL in a field refuses that row, naming the field (PostgreSQL could not store it: the whole
    import would fail); other rows go in."""

    @classmethod
    def setUpTestData(cls):
        cls.create_people()

    def test_a_nul_in_a_field_refuses_the_row_in_imports_and_saves(self):
        recipient_list = service.list_create(account=self.account, name="News", actor=SYSTEM)
        # Past the part read to detect the format (a NUL there refuses the file as binary).
        padding = "".join(f"p{n}@example.org,P,Q\r\n" for n in range(4000)).encode()
        rows = b"a@example.org,Ann\x00,X\r\nb@example.org,Bob,Y\x00\r\nc@example.org,Cy,Z\r\n"
        done = self.import_file(recipient_list, "nul.csv", b"email,UserName,City\r\n" + padding + rows)
        self.assertEqual((done.status, done.imported, done.invalid), (ImportStatus.DONE, 4001, 2), done.error)
        reasons = [row[1] for row in report_rows(done)[1:]]
        self.assertEqual(reasons, ["UserName contains a NUL character.", "City contains a NUL character."])
        added, errors = service.recipients_save(
            recipient_list=recipient_list, details=[{"e": "d@example.org", "u": "D\x00"}], actor=SYSTEM
        )
        self.assertEqual((added, errors), (0, [("d@example.org", "UserName contains a NUL character.")]))
