"""Filling DirectMail's `{Variable}` placeholders: the one module every sender renders through.

Plain and safe: a placeholder is `{Name}` with an identifier inside and nothing else, so CSS and JSON braces
are left alone; values are inserted as text (HTML-escaped in HTML, line breaks flattened in a subject); there
is no logic, no attribute access, no file access. A placeholder without a value becomes an empty string.
"""

import html
import json
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
# The fields DirectMail's recipient lists have; lists may add custom ones.
STANDARD_VARIABLES = ("UserName", "NickName", "Gender", "Birthday", "Mobile", "EAddr")


def variables_in(*texts: str) -> list[str]:
    """The variable names the texts use, in order of first appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        for name in PLACEHOLDER.findall(text or ""):
            seen.setdefault(name, None)
    return list(seen)


def render_text(text: str, data: dict) -> str:
    return PLACEHOLDER.sub(lambda m: _value(data, m.group(1)), text)


def render_html(markup: str, data: dict) -> str:
    """Values escaped for where they stand: text is HTML-escaped; inside a tag, a value fills only an
    attribute's value (quoted, escaped), a URL attribute that a value turned into anything but http(s),
    mailto, tel or cid (`javascript:`...) is dropped, and a style attribute keeps only harmless CSS
    characters. A placeholder in a tag but outside any value (an attribute name) is left out."""
    if "{" not in markup:
        return markup
    return _TAG_OR_PLACEHOLDER.sub(lambda m: _fill_tag(m.group(1), data) if m.group(1) else
                                   html.escape(_value(data, m.group(2))), markup)  # fmt: skip


# A start tag (filled attribute by attribute), or a placeholder in text.
_TAG_OR_PLACEHOLDER = re.compile(r"(<[A-Za-z][^>]*>)|" + PLACEHOLDER.pattern)
# An attribute with its value, or a placeholder anywhere else in the tag.
_IN_TAG = re.compile(r"""([^\s"'>/=]+)(\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)|""" + PLACEHOLDER.pattern)
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "background", "poster", "cite", "longdesc",
                            "usemap", "xlink:href", "data", "codebase", "lowsrc", "dynsrc", "srcset", "ping",
                            "manifest", "profile", "icon"})  # fmt: skip
SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f]")  # browsers skip these when they read a scheme
_CSS_UNSAFE = re.compile(r"[^\w\s#.,%+\-]")


def safe_url(url: str) -> bool:
    """A URL without a scheme (relative), or with one of SAFE_SCHEMES; `url` as a browser reads it."""
    scheme = _SCHEME.match(_IGNORED_IN_URLS.sub("", html.unescape(url)))
    return scheme is None or scheme.group(1).lower() in SAFE_SCHEMES


def _fill_tag(tag: str, data: dict) -> str:
    if "{" not in tag:
        return tag

    def attribute(match: re.Match) -> str:
        name, equals, value, _outside = match.groups()
        if name is None:
            return ""  # a placeholder outside any value: it could only add an attribute
        if not PLACEHOLDER.search(value):
            return match.group(0)
        quote = value[0] if value[0] in "\"'" else '"'
        inner = value[1:-1] if value[0] in "\"'" else value
        kind = name.lower()
        if kind == "style":
            filled = PLACEHOLDER.sub(lambda m: _CSS_UNSAFE.sub("", _value(data, m.group(1))), inner)
        else:
            filled = PLACEHOLDER.sub(lambda m: html.escape(_value(data, m.group(1))), inner)
        if kind in URL_ATTRIBUTES and not all(safe_url(part) for part in _url_parts(kind, filled)):
            return ""
        return f"{name}{equals}{quote}{filled}{quote}"

    return _IN_TAG.sub(attribute, tag)


def _url_parts(kind: str, value: str) -> list[str]:
    """The URLs an attribute holds: srcset lists several ("a.png 1x, b.png 2x")."""
    if kind != "srcset":
        return [value]
    return [candidate.strip().split(" ")[0] for candidate in html.unescape(value).split(",")]


def render_subject(subject: str, data: dict) -> str:
    """A subject never gains a line break or another control character from a value (a line break would
    end the header): each run of them and of whitespace becomes one space."""
    return PLACEHOLDER.sub(lambda m: " ".join(_CONTROL.sub(" ", _value(data, m.group(1))).split()), subject)


def _value(data: dict, name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    return str(value)


def sample_data(raw: str) -> dict[str, str]:
    """A template's sample data as the console posts it (a JSON object), as text; {} when it is none."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
