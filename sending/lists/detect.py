"""What an uploaded recipient file is: its encoding, delimiter, header and a guess of what each column holds.

Real files come from Excel and CRMs: UTF-8 with or without a BOM, GBK/GB18030 from Chinese Excel, UTF-16
"Unicode text" (tab-separated), semicolons where the comma is the decimal sign. The encoding is checked
over the whole file (streamed), so a file that is not text is refused at upload, before anything is asked.
"""

import codecs
import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sending.lists.fields import RESERVED_VARIABLES, STANDARD_NAMES, valid_custom_name
from sending.services.messages import normalize_address

SAMPLE = 64 * 1024
PREVIEW_ROWS = 10
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_LABELS = {
    ",": gettext_lazy("Comma ,"),
    ";": gettext_lazy("Semicolon ;"),
    "\t": gettext_lazy("Tab"),
    "|": gettext_lazy("Vertical bar |"),
}
# What users may choose; the detector may also answer utf-16-le/-be for a UTF-16 file without its BOM.
ENCODING_LABELS = {
    "utf-8": gettext_lazy("UTF-8"),
    "gb18030": gettext_lazy("GBK / GB18030 (Chinese Excel)"),
    "utf-16": gettext_lazy('UTF-16 (Excel "Unicode text")'),
}
_BINARY_SIGNATURES = {
    b"PK\x03\x04": gettext_lazy("an Excel workbook or another zip file"),
    b"\xd0\xcf\x11\xe0": gettext_lazy("an old Excel workbook (.xls)"),
    b"%PDF": gettext_lazy("a PDF document"),
}

# Header names people use for each field (compared lower-case without spaces, "_" and "-").
HEADER_ALIASES = {
    "email": {
        "email", "e-mail", "mail", "emailaddress", "address", "eaddr", "to",
        "收件人", "邮箱", "邮箱地址", "电子邮件", "电子邮箱", "邮件地址", "电子邮件地址",
    },
    "user_name": {"username", "name", "fullname", "u", "姓名", "用户名", "名字"},
    "nick_name": {"nickname", "nick", "n", "昵称"},
    "gender": {"gender", "sex", "g", "性别"},
    "birthday": {"birthday", "birthdate", "dateofbirth", "dob", "b", "生日", "出生日期"},
    "mobile": {
        "mobile", "phone", "mobilephone", "cellphone", "cell", "tel", "m",
        "手机", "手机号", "手机号码", "电话", "电话号码",
    },
}  # fmt: skip


class Unreadable(ValueError):
    """A file we cannot read as recipients; the message says why, for people."""


@dataclass
class Format:
    encoding: str
    delimiter: str
    has_header: bool
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # the first data rows
    guesses: list[str] = field(default_factory=list)  # a mapping value per column

    @property
    def columns(self) -> int:
        return max([len(self.header), *(len(row) for row in self.rows)], default=0)


def codec(encoding: str) -> str:
    """The codec that reads `encoding`: UTF-8 files may start with a BOM, which is not data."""
    return "utf-8-sig" if encoding == "utf-8" else encoding


def _head(pieces, size: int) -> bytes:
    head = bytearray()
    for piece in pieces:
        head += piece
        if len(head) >= size:
            break
    return bytes(head[:size])


def _decodes(pieces, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(codec(encoding))()
    try:
        for piece in pieces:
            decoder.decode(piece)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(open_pieces) -> str:
    """The file's encoding; `open_pieces()` gives its bytes from the start, as an iterable of pieces."""
    head = _head(open_pieces(), SAMPLE)
    if not head.strip(b" \t\r\n\x00" + codecs.BOM_UTF8 + codecs.BOM_UTF16_LE):
        raise Unreadable(_("The file is empty."))
    for signature, what in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise Unreadable(
                _("This is %(what)s, not a text file: save it as CSV (UTF-8) and upload that.")
                % {"what": what}
            )
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif b"\x00" in head:
        # UTF-16 without its BOM: ASCII characters put a zero byte on one side of each pair.
        pairs = len(head) // 2 or 1
        odd, even = head[1::2].count(0) / pairs, head[0::2].count(0) / pairs
        candidates = ["utf-16-le"] if odd > 0.3 > even else ["utf-16-be"] if even > 0.3 > odd else []
    else:
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        if _decodes(open_pieces(), encoding):
            text = head.decode(codec(encoding), errors="ignore")
            controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\t\r\n")
            if controls > len(text) / 100:
                break
            return encoding
    raise Unreadable(_("This is not a text file we can read: save it as CSV in UTF-8, GBK or UTF-16."))


def check_encoding(open_pieces, encoding: str) -> None:
    """Refuse an encoding the user chose when the whole file does not decode with it."""
    if not _decodes(open_pieces(), encoding):
        raise Unreadable(
            _("The file is not valid %(encoding)s text.")
            % {"encoding": ENCODING_LABELS.get(encoding, encoding)}
        )


def sample_rows(text: str, delimiter: str, complete: bool) -> list[list[str]]:
    """The rows of a sample (its last, possibly cut, row dropped unless the sample is the whole file)."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        return []
    if not complete and rows:
        rows.pop()
    return [row for row in rows if any(cell.strip() for cell in row)]


def detect_delimiter(text: str, complete: bool) -> str:
    """The candidate that splits the sample's rows into the same number (>1) of columns most often."""
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        counts = Counter(len(row) for row in sample_rows(text, delimiter, complete)[:200])
        if not counts:
            continue
        width, times = counts.most_common(1)[0]
        if width < 2:
            continue
        score = (times / sum(counts.values()), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def is_address(cell: str) -> bool:
    cell = cell.strip()
    if "@" not in cell:
        return False
    try:
        normalize_address(cell)
    except ValidationError:
        return False
    return True


def _alias(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.strip().lower())


def _custom_name(header: str, column: int, taken: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_]+", "_", header.strip()).strip("_")[:64]
    if name and name[0].isdigit():
        name = f"F{name}"[:64]
    if not name or not valid_custom_name(name) or name in taken:
        name = f"Field{column + 1}"
    return name


def guess_mapping(header: list[str], rows: list[list[str]], columns: int) -> list[str]:
    """A mapping value per column: the address column, standard fields by header name, the rest custom."""
    mapping = [""] * columns
    aliases = {_alias(h): i for i, h in enumerate(header)}
    for target, names in HEADER_ALIASES.items():
        for name in names:
            if name in aliases and not mapping[aliases[name]]:
                mapping[aliases[name]] = target
                break
    if "email" not in mapping:
        # The column holding the most addresses.
        hits = [sum(1 for row in rows if i < len(row) and is_address(row[i])) for i in range(columns)]
        if hits and max(hits) > 0:
            mapping[hits.index(max(hits))] = "email"
    taken = set(RESERVED_VARIABLES)
    for i in range(columns):
        if not mapping[i]:
            name = _custom_name(header[i] if i < len(header) else "", i, taken)
            taken.add(name)
            mapping[i] = f"custom:{name}"
    return mapping


def detect_format(open_pieces, encoding: str | None = None, delimiter: str | None = None,
                  has_header: bool | None = None) -> Format:  # fmt: skip
    """Read the file's format (or take the user's choices) and its first rows."""
    encoding = encoding or detect_encoding(open_pieces)
    raw = _head(open_pieces(), SAMPLE + 1)
    complete = len(raw) <= SAMPLE
    text = raw[:SAMPLE].decode(codec(encoding), errors="ignore")
    delimiter = delimiter or detect_delimiter(text, complete)
    rows = sample_rows(text, delimiter, complete)
    if not rows:
        raise Unreadable(_("The file has no rows."))
    if has_header is None:
        has_header = not any(is_address(cell) for cell in rows[0])
    header = [cell.strip() for cell in rows[0]] if has_header else []
    data = rows[1:] if has_header else rows
    preview = data[:PREVIEW_ROWS]
    found = Format(encoding, delimiter, has_header, header, preview)
    found.guesses = guess_mapping(header, data[:200], found.columns)
    return found


MAPPING_TARGETS = ["email", *STANDARD_NAMES]
