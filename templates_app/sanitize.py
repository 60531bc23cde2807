"""Sanitizing template HTML on save: an allow-list that keeps email-safe markup and inline styles.

bleach (with its CSS sanitizer) does the work. What it never lets through: scripts, event handlers,
`javascript:`/`data:`/`vbscript:` URLs, forms, frames, objects, and the mXSS-prone combination of
CVE-2021-23980 (no `svg`/`math`, no `style`/`noscript`/`textarea`/`xmp`... elements, comments stripped).
Elements whose content is code or hidden (script, style, iframe...) are dropped with their content;
other unknown tags are dropped and their text kept. `report` lists what was removed, for the editor.

With `keep_media`, the `@media` rules of the document's `<style>` elements are given back too (`media`:
what CSS inlining leaves for the clients that read it: responsive widths, dark mode), parsed with
tinycss2 and rebuilt from what passes, media queries of plain words, selectors of plain characters,
declarations through the same property allow-list as style attributes; nothing else of a style element,
and never a `<` in what is written back.
"""

import re
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser

import bleach
import tinycss2
from bleach.css_sanitizer import CSSSanitizer

ALLOWED_TAGS = frozenset(
    """a abbr address article aside b bdi bdo big blockquote br caption center cite code col colgroup dd
    del details dfn div dl dt em figcaption figure font footer h1 h2 h3 h4 h5 h6 header hr i img ins kbd
    li main mark nav ol p pre q s samp section small span strike strong sub summary sup table tbody td
    tfoot th thead time tr tt u ul var wbr""".split()  # noqa: SIM905 - a word list reads better
)
_TABLE_ATTRIBUTES = ["align", "valign", "bgcolor", "width", "height", "border", "cellpadding", "cellspacing"]
ALLOWED_ATTRIBUTES = {
    "*": [
        "style",
        "class",
        "align",
        "dir",
        "lang",
        "title",
        "width",
        "height",
        "bgcolor",
        "valign",
        "id",
        "role",
        "aria-label",
        "aria-hidden",
        "aria-roledescription",
    ],
    "a": ["href", "name", "target", "rel"],
    "img": ["src", "alt", "border", "hspace", "vspace"],
    "table": [*_TABLE_ATTRIBUTES, "role", "summary"],
    "td": [*_TABLE_ATTRIBUTES, "colspan", "rowspan", "nowrap", "vertical-align"],
    "th": [*_TABLE_ATTRIBUTES, "colspan", "rowspan", "nowrap", "scope"],
    "tr": _TABLE_ATTRIBUTES,
    "col": ["span", "width"],
    "colgroup": ["span", "width"],
    "font": ["color", "face", "size"],
    "ol": ["start", "type"],
    "ul": ["type"],
    "li": ["value"],
    "time": ["datetime"],
    "blockquote": ["cite"],
    "q": ["cite"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
ALLOWED_CSS_PROPERTIES = frozenset(
    """background-color border border-bottom border-collapse border-color border-left border-radius
    border-right border-spacing border-style border-top border-width color direction display font
    font-family font-size font-style font-weight height letter-spacing line-height list-style-type
    margin margin-bottom margin-left margin-right margin-top max-width min-width padding padding-bottom
    padding-left padding-right padding-top table-layout text-align text-decoration text-indent
    text-transform vertical-align white-space width word-break word-spacing""".split()  # noqa: SIM905 - a word list reads better
)
# Elements removed together with what they contain: code, hidden or interactive content.
_DROPPED_WITH_CONTENT = (  # noqa: SIM905
    "script style noscript iframe frame frameset object embed applet template xmp noembed noframes textarea "
    "title head svg math select button form"
).split()
_DROP = re.compile(
    r"<(%s)\b[^>]*>.*?</\1\s*>" % "|".join(_DROPPED_WITH_CONTENT),  # noqa: UP031 - a regex, not a message
    re.I | re.S,
)

# Values no email needs that old engines execute or fetch: dropped even on an allowed property.
_UNSAFE_CSS_VALUE = re.compile(
    r"expression\s*\(|url\s*\(|javascript:|vbscript:|behavior|binding|@import", re.I
)


class _CSSSanitizer(CSSSanitizer):
    def sanitize_css(self, style: str) -> str:
        declarations = super().sanitize_css(style).split(";")
        return ";".join(d for d in declarations if not _UNSAFE_CSS_VALUE.search(d)).strip()


# A whole document's frame: the mail is sent with its own, so these going is not news to the author.
_SCAFFOLDING = frozenset({"html", "head", "body", "meta", "title"})

_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    css_sanitizer=_CSSSanitizer(allowed_css_properties=ALLOWED_CSS_PROPERTIES),
)


_css = _CSSSanitizer(allowed_css_properties=ALLOWED_CSS_PROPERTIES)
_STYLE_ELEMENT = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.I | re.S)
# "only screen and (max-width: 600px)", "(prefers-color-scheme: dark)"
_MEDIA_QUERY = re.compile(r"[\w\s:(),.\-]+")
_SELECTOR = re.compile(r"[\w\s.#,>+~*:\-\[\]=\"'()]+")


def media_rules(css: str) -> str:
    """The @media rules of a style sheet, rebuilt from their harmless parts ("" when none)."""
    out = []
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type != "at-rule" or rule.lower_at_keyword != "media" or rule.content is None:
            continue
        query = " ".join(tinycss2.serialize(rule.prelude).split())
        if not _MEDIA_QUERY.fullmatch(query):
            continue
        inner = []
        for qualified in tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True):
            if qualified.type != "qualified-rule":
                continue
            selector = " ".join(tinycss2.serialize(qualified.prelude).split())
            declarations = _css.sanitize_css(tinycss2.serialize(qualified.content).strip())
            if _SELECTOR.fullmatch(selector) and declarations:
                inner.append(f"{selector}{{{declarations}}}")
        if inner:
            out.append(f"@media {query}{{{''.join(inner)}}}")
    kept = "".join(out)
    return "" if "<" in kept or "\\" in kept else kept


@dataclass(frozen=True)
class Sanitized:
    html: str
    removed: list[str]  # e.g. ["<script> (1)", "onerror on <img> (1)"], for the editor
    media: str = ""  # with keep_media: the harmless @media rules of the style elements, as CSS


class _Inventory(HTMLParser):
    """Tags and (tag, attribute) pairs in a document, counted."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: Counter = Counter()
        self.attributes: Counter = Counter()

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        for name, value in attrs:
            self.attributes[(tag, name)] += 1
            if name in ("href", "src") and value and ":" in value.split("/")[0]:
                scheme = value.split(":", 1)[0].strip().lower()
                if scheme not in ALLOWED_PROTOCOLS:
                    self.attributes[(tag, f"{name}={scheme}:")] += 1


def _inventory(html: str) -> _Inventory:
    parser = _Inventory()
    parser.feed(html)
    parser.close()
    return parser


def sanitize(html: str, *, keep_media: bool = False) -> Sanitized:
    """The allowed part of `html`, and a list of what was removed; with `keep_media`, its style elements'
    harmless @media rules too."""
    cleaned = _cleaner.clean(_DROP.sub("", html))
    media = "".join(media_rules(css) for css in _STYLE_ELEMENT.findall(html)) if keep_media else ""
    before, after = _inventory(html), _inventory(cleaned)
    kept = _SCAFFOLDING | ({"style"} if media else set())  # a style element whose rules were kept
    removed = [f"<{tag}> ({n})" for tag, n in sorted((before.tags - after.tags).items()) if tag not in kept]
    removed += [
        f"{name} on <{tag}> ({n})"
        for (tag, name), n in sorted((before.attributes - after.attributes).items())
        if tag in after.tags or tag in ALLOWED_TAGS
    ]
    return Sanitized(cleaned, removed, media)
