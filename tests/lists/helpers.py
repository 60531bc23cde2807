"""Recipient files as real tools write them, and a way to import one the way the console does."""

import codecs
import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.audit import Actor
from sending.models import RecipientImport, RecipientList
from sending.services import lists as service


def csv_bytes(
    rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",", bom: bool = False
) -> bytes:
    text = io.StringIO(newline="")
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    data = text.getvalue().encode(encoding)
    if bom and encoding == "utf-8":
        data = codecs.BOM_UTF8 + data
    return data


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


class ImportMixin:
    """For TestCase classes with People: import a file into a list through the services, the task inline."""

    def import_file(
        self,
        recipient_list: RecipientList,
        name: str,
        data: bytes,
        *,
        mode: str = "add",
        mapping=None,
        **choices,
    ) -> RecipientImport:
        actor = Actor(user=self.owner)
        recipient_import = service.import_upload(
            recipient_list=recipient_list, upload=upload(name, data), actor=actor
        )
        found = service.import_preview(recipient_import, **choices)
        with self.captureOnCommitCallbacks(execute=True):
            service.import_start(
                recipient_import=recipient_import,
                encoding=found.encoding,
                delimiter=found.delimiter,
                has_header=found.has_header,
                mapping=mapping or found.guesses,
                mode=mode,
                actor=actor,
            )
        recipient_import.refresh_from_db()
        return recipient_import
