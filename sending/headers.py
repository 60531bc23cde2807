"""What may stand in a header of mail we sign: the one set of rules for acceptance (API, SMTP, console) and
for the last check of every message before it is signed.

A header value carries text, never structure: no line break and no other control character (NUL, ESC, BEL,
VT, FF, FS, ...), neither written as it is nor hidden in an RFC 2047 encoded word. Names and sizes stay in
RFC 5322's bounds (a line of at most 998 characters), and the headers RFC 5322 allows once appear once.
"""

import re
from email.header import decode_header, make_header
from email.utils import getaddresses

# C0 controls but TAB, and DEL: what no header text may hold (CR and LF among them).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
FIELD_NAME = re.compile(rb"[!-9;-~]+")  # printable ASCII without ":" (RFC 5322 3.6.8)
MAX_LINE = 998
# The whole header block of one message, as Postfix's header_size_limit has it.
MAX_HEADER_BLOCK = 100 * 1024
# RFC 5322 3.6: at most one of each (From exactly one).
SINGLE = ("from", "sender", "reply-to", "to", "cc", "bcc", "message-id", "in-reply-to", "references",
          "subject", "date")  # fmt: skip


class UnsafeHeader(ValueError):
    """A header block or value that must not be signed or sent; the text says what is wrong."""


def decoded(value: str) -> str | None:
    """`value` with its encoded words decoded; None when an encoded word cannot be read."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return None


def has_control(value: str) -> bool:
    """A control character (a line break among them) in the value or in what its encoded words decode to.
    An encoded word that cannot be read counts as one: it is not passed on either."""
    text = decoded(value)
    return text is None or bool(_CONTROL.search(value) or _CONTROL.search(text))


def fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """(name, value with its continuation lines) of a CRLF header block, read strictly: a line is a
    header (`name:` with no space before the colon) or a continuation (it starts with a space or tab).
    Anything else, RFC 5322's obsolete `From :` among it, raises UnsafeHeader: readers disagree on it."""
    found: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and found:
            name, value = found[-1]
            found[-1] = (name, value + b"\r\n" + line)
            continue
        name, colon, value = line.partition(b":")
        if not colon or not FIELD_NAME.fullmatch(name):
            shown = ascii(line[:40].decode("utf-8", errors="replace"))  # one line of ASCII, for a reply
            raise UnsafeHeader(f"a malformed header line ({shown}); write 'Name: value'")
        found.append((name, value))
    return found


def check_block(head: bytes, *, sender: str) -> list[tuple[bytes, bytes]]:
    """The last check of a header block before it is signed: strict syntax, sizes, controls (also encoded),
    one From naming exactly `sender`, no Bcc, and no duplicate of a header RFC 5322 allows once.
    Returns the fields; raises UnsafeHeader."""
    if len(head) > MAX_HEADER_BLOCK:
        raise UnsafeHeader(f"the header block is over {MAX_HEADER_BLOCK // 1024} KB")
    if any(len(line) > MAX_LINE for line in head.split(b"\r\n")):
        raise UnsafeHeader(f"a header line is over {MAX_LINE} characters")
    found = fields(head)
    counts: dict[str, int] = {}
    for name, value in found:
        key = name.decode().lower()
        counts[key] = counts.get(key, 0) + 1
        unfolded = re.sub(rb"\r\n(?=[ \t])", b"", value)
        if _CONTROL_BYTES.search(unfolded) or has_control(unfolded.decode("utf-8", errors="replace")):
            raise UnsafeHeader(f"{name.decode()} holds a line break or a control character")
    for key in SINGLE:
        if counts.get(key, 0) > 1:
            raise UnsafeHeader(f"{key} appears {counts[key]} times")
    if counts.get("bcc"):
        raise UnsafeHeader("a Bcc header must never travel")
    froms = [value for name, value in found if name.lower() == b"from"]
    addresses = [a for _n, a in getaddresses([" ".join(v.decode("utf-8", "replace").split()) for v in froms])]
    if len(froms) != 1 or [a.lower() for a in addresses] != [sender.lower()]:
        raise UnsafeHeader(f"the From header must name {sender} alone")
    return found
