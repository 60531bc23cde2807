"""From what a template's author wrote to the HTML that is reviewed and sent, on every save.

1. MJML (a version whose format is MJML) is compiled to HTML by mrml, the Rust MJML compiler's Python
   binding (no Node.js at run time). mrml's own errors name no place, so a failed compile is looked at
   again by `_mjml_problem`, which names the line of the first unclosed, stray or unknown element.
2. The document's `<style>` rules are inlined into style attributes by css-inline (Gmail and many apps
   drop or limit style elements); what cannot be inlined, the `@media` rules, stays in a style element
   for the clients that read it. Remote style sheets are never fetched.
3. The sanitizer (templates_app.sanitize) runs on the result, keeping those @media rules; when there are
   any, the result is a whole document with them in its head (Gmail reads style elements only there).

`prepare` does all three; templates_app.services calls it.
"""

from dataclasses import dataclass
from html.parser import HTMLParser

import css_inline
import mrml
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from templates_app.models import BodyFormat
from templates_app.sanitize import sanitize

_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False, keep_link_tags=False)


class SourceError(ServiceError):
    """The source cannot be compiled; `line` is where (1-based; 0 when nobody can say)."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Prepared:
    html: str
    removed: list[str]  # what the sanitizer took out, for the editor


def prepare(source: str, body_format: str = BodyFormat.HTML) -> Prepared:
    """The HTML to review and send for `source`; raises SourceError when MJML does not compile."""
    markup = compile_mjml(source) if body_format == BodyFormat.MJML and source.strip() else source
    cleaned = sanitize(inline_css(markup), keep_media=True)
    if not cleaned.media:
        return Prepared(cleaned.html, cleaned.removed)
    # A document, so that the rules are in the head, where Gmail reads style elements.
    document = DOCUMENT.format(media=cleaned.media, body=cleaned.html)
    return Prepared(document, cleaned.removed)


DOCUMENT = (
    '<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">'
    "<style>{media}</style></head><body>{body}</body></html>"
)


def inline_css(markup: str) -> str:
    """`markup` with its style elements' rules moved into style attributes (@media rules kept)."""
    if "<style" not in markup.lower():
        return markup
    try:
        return _INLINER.inline(markup)
    except (css_inline.InlineError, ValueError) as exc:
        raise SourceError(_("The styles could not be inlined: %(why)s") % {"why": exc}) from exc


def compile_mjml(source: str) -> str:
    """The HTML of an MJML document; an unknown or unbalanced MJML element is an error at its line (mrml
    drops some unknown elements without a word)."""
    line, problem = _mjml_problem(source)
    if problem:
        raise SourceError(problem, line)
    try:
        return mrml.to_html(source).content
    except OSError as exc:
        raise SourceError(_("The MJML could not be compiled: %(why)s.") % {"why": exc}) from exc


# The elements of MJML 4 (mrml's set), and HTML's void elements (never closed).
MJML_ELEMENTS = frozenset(
    """mjml mj-head mj-body mj-attributes mj-all mj-class mj-breakpoint mj-font mj-html-attributes
    mj-html-attribute mj-selector mj-preview mj-style mj-title mj-include mj-accordion mj-accordion-element
    mj-accordion-title mj-accordion-text mj-button mj-carousel mj-carousel-image mj-column mj-divider
    mj-group mj-hero mj-image mj-navbar mj-navbar-link mj-raw mj-section mj-social mj-social-element
    mj-spacer mj-table mj-text mj-wrapper""".split()  # noqa: SIM905 - a word list reads better
)
_VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())  # noqa: SIM905


def _is_mjml(tag: str) -> bool:
    return tag == "mjml" or tag.startswith("mj-")


class _Balance(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, int]] = []
        self.problem: tuple[int, str] | None = None
        self.seen_root = False

    def _fail(self, message: str) -> None:
        if self.problem is None:
            self.problem = (self.getpos()[0], message)

    # mrml wants the HTML inside mj-text closed too (an unclosed <p> fails the compile): every element
    # but HTML's void ones is followed.
    def handle_starttag(self, tag, attrs):
        if not self.seen_root:
            self.seen_root = True
            if tag != "mjml":
                self._fail(_("An MJML template starts with <mjml>, not <%(tag)s>.") % {"tag": tag})
        if _is_mjml(tag) and tag not in MJML_ELEMENTS:
            self._fail(_("<%(tag)s> is not an MJML element.") % {"tag": tag})
        if tag not in _VOID:
            self.open.append((tag, self.getpos()[0]))

    def handle_startendtag(self, tag, attrs):
        if _is_mjml(tag) and tag not in MJML_ELEMENTS:
            self._fail(_("<%(tag)s> is not an MJML element.") % {"tag": tag})

    def handle_endtag(self, tag):
        if tag in _VOID:
            return
        if not self.open:
            self._fail(_("</%(tag)s> closes nothing.") % {"tag": tag})
            return
        name, line = self.open[-1]
        if name != tag:
            problem = _("</%(tag)s> closes <%(open)s>, opened on line %(line)s.")
            self._fail(problem % {"tag": tag, "open": name, "line": line})
            return
        self.open.pop()


def _mjml_problem(source: str) -> tuple[int, str]:
    """(line, what is wrong) of the first unbalanced or unknown element; (0, "") when none is found."""
    checker = _Balance()
    try:
        checker.feed(source)
        checker.close()
    except AssertionError:  # html.parser gives up on some broken markup
        return 0, ""
    if checker.problem is not None:
        line, message = checker.problem
        return line, _("Line %(line)s: %(problem)s") % {"line": line, "problem": message}
    if not checker.seen_root:
        return 1, _("Line %(line)s: %(problem)s") % {
            "line": 1,
            "problem": _("An MJML template starts with <mjml>."),
        }
    if checker.open:
        name, line = checker.open[-1]
        problem = _("<%(tag)s> is never closed.") % {"tag": name}
        return line, _("Line %(line)s: %(problem)s") % {"line": line, "problem": problem}
    return 0, ""
