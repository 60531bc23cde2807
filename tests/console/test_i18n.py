"""Every piece of text a person reads in the console's templates is marked for translation."""

import re
from pathlib import Path

from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# Words that are names, not language.
ALLOWED = {"directmail"}


def visible_untranslated_text(source: str) -> list[str]:
    source = re.sub(r"{%\s*block body_class\s*%}.*?{%\s*endblock\s*%}", "", source, flags=re.S)
    source = re.sub(r"{%\s*blocktrans(late)?\b.*?{%\s*endblocktrans(late)?\s*%}", "", source, flags=re.S)
    source = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", "", source, flags=re.S)
    source = re.sub(r"<(script|style)\b.*?</\1>", "", source, flags=re.S)
    source = re.sub(r"<[^>]*>", " ", source, flags=re.S)
    words = re.findall(r"[^\W\d_][\w'\u2019]*", source)
    return [w for w in words if w not in ALLOWED]


def test_no_template_has_unmarked_visible_text():
    offenders = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        words = visible_untranslated_text(path.read_text())
        if words:
            offenders[str(path.relative_to(TEMPLATES))] = words[:8]
    assert offenders == {}


def test_the_scan_finds_unmarked_text():
    assert visible_untranslated_text("<p>{% translate 'Hello' %}</p><p>Goodbye</p>") == ["Goodbye"]
    assert (
        visible_untranslated_text(
            '<a title="x">{{ name }}</a>{% blocktranslate %}Hi {{ n }}{% endblocktranslate %}'
        )
        == []
    )
