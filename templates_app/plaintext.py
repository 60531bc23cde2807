"""The text part made from HTML, for mail that has no text of its own: readable, with every link's URL.

inscriptis lays the HTML out as text (headings and paragraphs apart, lists with their bullets and
numbers, tables in columns; scripts and styles dropped). Before that, each link gets its URL after its
text, `text (https://...)`, unless the text already is the URL; a linked image without alt text is named
by its URL alone. Used when sending (sending.delivery.mime) and by the template preview's text tab.
"""

from urllib.parse import unquote

import lxml.html
from inscriptis import Inscriptis
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig
from lxml import etree

from templates_app import rendering

_CONFIG = ParserConfig(css=CSS_PROFILES["strict"], display_images=False, display_links=False)
_SHOWN_SCHEMES = ("http://", "https://", "mailto:", "tel:")


def _same(text: str, href: str) -> bool:
    """Whether a link's text already shows its target (with or without the scheme, or as the address)."""
    text, target = text.strip().rstrip("/"), unquote(href).strip().rstrip("/")
    for prefix in ("mailto:", "tel:", "https://", "http://"):
        target = target.removeprefix(prefix)
        text = text.removeprefix(prefix)
    return text.lower() == target.lower()


def _with_urls(root) -> None:
    for link in root.iter("a"):
        href = (link.get("href") or "").strip()
        # A {Variable} href is a link the recipient's data makes (a template's text part is made before
        # the values are filled in).
        if not href.lower().startswith(_SHOWN_SCHEMES) and not rendering.PLACEHOLDER.match(href):
            continue
        shown = link.text_content().strip()
        if not shown:
            shown = " ".join(img.get("alt", "").strip() for img in link.iter("img")).strip()
            if shown:
                link.append(_span(shown))
        if shown and _same(shown, href):
            continue
        label = href.removeprefix("mailto:") if href.lower().startswith("mailto:") else href
        link.append(_span(f" ({label})" if shown else label))


def _span(text: str):
    span = etree.Element("span")
    span.text = text
    return span


def text_from_html(markup: str) -> str:
    """A plain-text part for mail that only has HTML."""
    if not markup.strip():
        return "\n"
    try:
        root = lxml.html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return "\n"
    _with_urls(root)
    text = Inscriptis(root, _CONFIG).get_text()
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:  # at most one blank line in a row
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"


def visible_text(markup: str) -> str:
    """The words a reader sees with images blocked (no link URLs), in one line."""
    try:
        root = lxml.html.document_fromstring(markup)
    except (etree.ParserError, ValueError):
        return ""
    return " ".join(Inscriptis(root, _CONFIG).get_text().split())
