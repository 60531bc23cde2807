"""Pre-flight checks of an email template: what would hurt it in the inbox, said before it is sent.

Shown on the template page (as the author types, with the live preview), to the reviewer, and on a batch
send's pre-flight (which knows the list and the unsubscribe option: sending.services.batch). Each check
reads the HTML as it will be sent (compiled, inlined, sanitized) and gives a Finding or nothing:

- `size`: HTML over Gmail's clipping limit (102 KB; Gmail hides the rest behind "View entire message");
- `unsubscribe`: a batch template without an unsubscribe link of its own, when the send adds none;
- `img_alt`: images without alt text (shown to everyone whose client blocks images);
- `insecure`: http: links and images (warnings in clients, mixed content);
- `link_mismatch`: a link whose text shows another domain than where it goes (a phishing sign to filters);
- `no_text`: no text part (one is made from the HTML when sending);
- `unknown_variable`: variables the list does not have (sent as empty text);
- `image_only`: mostly images and little text (filters distrust it; blocked images leave it blank).
"""

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from publicsuffixlist import PublicSuffixList

from templates_app import plaintext, rendering

GMAIL_CLIP_BYTES = 102 * 1024
IMAGE_ONLY_TEXT = 100  # characters of visible text under which mail with images counts as image-only
_psl = PublicSuffixList()
_SHOWN_DOMAIN = re.compile(r"^(?:https?://)?((?:[a-z0-9-]+\.)+[a-z]{2,})(?:[/:?#]\S*)?$", re.I)
_UNSUBSCRIBE = re.compile(r"unsubscri|opt[ -]?out|退订|取消订阅|退订阅", re.I)


@dataclass(frozen=True)
class Finding:
    code: str
    level: str  # "warning" (fix it) or "info" (worth knowing)
    message: str
    examples: tuple[str, ...] = ()


class _Links(HTMLParser):
    """Links (href, text) and images (src, alt) of a document."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.images: list[tuple[str, str | None]] = []
        self._open: list[list] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "a":
            self._open.append([values.get("href") or "", ""])
        elif tag == "img":
            self.images.append((values.get("src") or "", values.get("alt")))

    def handle_data(self, data):
        for link in self._open:
            link[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            href, text = self._open.pop()
            self.links.append((href.strip(), " ".join(text.split())))


def _site(host: str) -> str:
    host = host.lower().rstrip(".")
    return _psl.privatesuffix(host) or host


def check(
    *,
    html: str,
    text: str = "",
    batch: bool | None = None,
    unsubscribe_added: bool = False,
    list_variables: set[str] | None = None,
) -> list[Finding]:
    """The findings for a template's HTML and text part. `batch`: it is (True) or may be (None) sent in
    batch; `unsubscribe_added`: the send adds an unsubscribe link itself; `list_variables`: the variables
    the list has (None: not known here)."""
    findings: list[Finding] = []
    if not html.strip():
        return findings
    parsed = _Links()
    parsed.feed(html)
    parsed.close()
    size = len(html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        findings.append(Finding("size", "warning", _(
            "The HTML is %(kb)s KB: Gmail clips mail over 102 KB and hides the rest, the unsubscribe link "
            "and open tracking included.") % {"kb": f"{size / 1024:.0f}"}))  # fmt: skip
    if batch is not False and not unsubscribe_added:
        has_link = any(_UNSUBSCRIBE.search(f"{href} {words}") for href, words in parsed.links)
        if not has_link:
            message = (
                _("No unsubscribe link, and this batch send adds none: recipients who cannot leave complain.")
                if batch
                else _("No unsubscribe link: a batch send of it must add one (its unsubscribe option).")
            )
            findings.append(Finding("unsubscribe", "warning", message))
    without_alt = tuple(src for src, alt in parsed.images if alt is None or not alt.strip())
    if without_alt:
        findings.append(Finding("img_alt", "warning", ngettext(
            "%(n)s image has no alt text: clients that block images show nothing in its place.",
            "%(n)s images have no alt text: clients that block images show nothing in their place.",
            len(without_alt)) % {"n": len(without_alt)}, without_alt[:5]))  # fmt: skip
    insecure = tuple(
        dict.fromkeys(
            [href for href, _words in parsed.links if href.lower().startswith("http:")]
            + [src for src, _alt in parsed.images if src.lower().startswith("http:")]
        )
    )
    if insecure:
        findings.append(Finding("insecure", "warning", ngettext(
            "%(n)s link or image uses http: instead of https:.",
            "%(n)s links or images use http: instead of https:.", len(insecure)) % {"n": len(insecure)},
            insecure[:5]))  # fmt: skip
    mismatched = []
    for href, words in parsed.links:
        shown = _SHOWN_DOMAIN.match(words)
        target = urlsplit(href).hostname if href.lower().startswith(("http:", "https:")) else None
        if shown and target and "{" not in href and _site(shown.group(1)) != _site(target):
            mismatched.append(f"{words} → {target}")
    if mismatched:
        findings.append(Finding("link_mismatch", "warning", _(
            "A link's text shows another domain than the one it opens: filters and people read that as "
            "phishing."), tuple(mismatched[:5])))  # fmt: skip
    if not text.strip():
        findings.append(Finding("no_text", "info", _(
            "No text part: one is made from the HTML when sending, links with their URLs.")))  # fmt: skip
    if list_variables is not None:
        unknown = [
            name
            for name in rendering.variables_in(html, text)
            if name not in list_variables and name != "EAddr"
        ]
        if unknown:
            findings.append(Finding("unknown_variable", "warning", _(
                "The list has no field for %(names)s: it is sent as empty text.") % {
                    "names": ", ".join("{" + n + "}" for n in unknown)}, tuple(unknown)))  # fmt: skip
    if parsed.images:
        visible = plaintext.visible_text(html)
        if len(visible) < IMAGE_ONLY_TEXT:
            findings.append(Finding("image_only", "warning", _(
                "Mostly images and %(n)s characters of text: spam filters distrust image-only mail, and "
                "with images blocked it reads as empty.") % {"n": len(visible)}))  # fmt: skip
    return findings
