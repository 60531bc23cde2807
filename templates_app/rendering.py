"""Filling DirectMail's `{Variable}` placeholders: the one module every sender renders through.

Plain and safe: a placeholder is `{Name}` with an identifier inside and nothing else, so CSS and JSON braces
are left alone; values are inserted as text (HTML-escaped in HTML, line breaks flattened in a subject); there
is no logic, no attribute access, no file access. A placeholder without a value becomes an empty string.
"""

import html
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
    return PLACEHOLDER.sub(lambda m: html.escape(_value(data, m.group(1))), markup)


def render_subject(subject: str, data: dict) -> str:
    """A subject never gains a line break or another control character from a value (a line break would
    end the header): each run of them and of whitespace becomes one space."""
    return PLACEHOLDER.sub(lambda m: " ".join(_CONTROL.sub(" ", _value(data, m.group(1))).split()), subject)


def _value(data: dict, name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    return str(value)
