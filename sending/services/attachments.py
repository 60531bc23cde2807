"""The API's Attachments: files named by URL, fetched once when the call is accepted.

DirectMail takes `Attachments.N.AttachmentName` and `Attachments.N.AttachmentUrl`; we fetch every URL
through sending.netguard (https outside development, no internal addresses, redirects checked like the
first URL) before anything is stored, so a file that cannot be fetched refuses the call and the mail that
leaves carries exactly what was fetched. The limits are DirectMail's: at most 100 files, 15 MB as sent.
"""

import mimetypes
import re
from collections.abc import Sequence

from django.utils.translation import gettext as _

from sending import netguard
from sending.services.messages import MAX_ATTACHMENTS, MAX_MAIL_BYTES, Attachment, EnqueueError

MAX_NAME = 255
_BAD_NAME = re.compile(r'[\x00-\x1f\x7f/\\"]')


def fetch_all(specs: Sequence[tuple[str, str]]) -> tuple[Attachment, ...]:
    """(name, url) pairs -> the fetched files, in order; EnqueueError naming the one at fault."""
    if len(specs) > MAX_ATTACHMENTS:
        raise EnqueueError(
            "InvalidAttachment",
            _("At most %(n)s attachments per mail.") % {"n": MAX_ATTACHMENTS},
            "Attachments",
        )
    budget = MAX_MAIL_BYTES * 3 // 4  # what the files may weigh before base64
    files: list[Attachment] = []
    for number, (name, url) in enumerate(specs, start=1):
        param = f"Attachments.{number}"
        name = name.strip()
        if not name or len(name) > MAX_NAME or _BAD_NAME.search(name):
            raise EnqueueError(
                "InvalidAttachment",
                _("%(param)s.AttachmentName must be a file name of 1 to %(n)s characters, without "
                  "slashes, quotes or control characters.") % {"param": param, "n": MAX_NAME},
                f"{param}.AttachmentName",
            )  # fmt: skip
        if not url.strip():
            raise EnqueueError(
                "InvalidAttachment", _("%(param)s.AttachmentUrl is empty.") % {"param": param}, param
            )
        try:
            fetched = netguard.fetch(url, max_bytes=max(budget, 0))
        except netguard.TooLarge as exc:
            raise EnqueueError(
                "InvalidAttachment",
                _("%(param)s.AttachmentUrl: the attachments weigh more than the 15 MB a mail may have as "
                  "sent (about 11 MB of files).") % {"param": param},
                f"{param}.AttachmentUrl",
            ) from exc  # fmt: skip
        except (netguard.UnsafeTarget, netguard.FetchError) as exc:
            raise EnqueueError(
                "InvalidAttachment",
                _("%(param)s.AttachmentUrl: %(reason)s.") % {"param": param, "reason": str(exc).rstrip(".")},
                f"{param}.AttachmentUrl",
            ) from exc
        budget -= len(fetched.data)
        files.append(Attachment(name, content_type(name, fetched.content_type), fetched.data))
    return tuple(files)


def content_type(name: str, declared: str) -> str:
    """The file's type by its name's extension, else what the server declared, else octet-stream."""
    guessed, _encoding = mimetypes.guess_type(name, strict=False)
    if guessed:
        return guessed
    if re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", declared or "") and declared != "text/html":
        return declared
    return "application/octet-stream"
