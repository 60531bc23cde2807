"""Every piece of text a person reads in the console's templates is marked for translation, and every marked
message is translated to Simplified Chinese in a catalogue that is compiled and up to date."""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils.translation.template import templatize

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


CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"


def test_every_message_is_translated_to_simplified_chinese():
    po = polib.pofile(str(CATALOGUE / "django.po"))
    untranslated = [e.msgid for e in po.untranslated_entries()] + [e.msgid for e in po.fuzzy_entries()]
    assert untranslated == [], "run `make messages` and translate these in locale/zh_Hans"
    assert len(po) > 1000


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_the_code_marks_nothing_the_catalogue_lacks():
    """Every string marked in the code is in the catalogue: `make messages` was run after the last change."""
    po = polib.pofile(str(CATALOGUE / "django.po"))
    known = {(e.msgctxt, e.msgid) for e in po}
    with tempfile.TemporaryDirectory() as scratch:
        template = Path(scratch) / "django.pot"
        # Templates as makemessages reads them: Django turns each into Python-like text for xgettext.
        sources = sorted(str(p) for p in Path(settings.BASE_DIR).glob("*/**/*.py") if _ours(p))
        for number, path in enumerate(sorted(TEMPLATES.rglob("*.*"))):
            converted = Path(scratch) / f"t{number}.py"
            converted.write_text(templatize(path.read_text(), origin=str(path)))
            sources.append(str(converted))
        subprocess.run(
            [
                "xgettext", "--from-code=UTF-8", "--language=Python", "--keyword=_", "--keyword=gettext_lazy",
                "--keyword=gettext", "--keyword=gettext_noop", "--keyword=ngettext:1,2",
                "--keyword=pgettext:1c,2", "--keyword=pgettext_lazy:1c,2", "--output", str(template),
                *sources,
            ],
            check=True,
        )  # fmt: skip
        marked = {(e.msgctxt, e.msgid) for e in polib.pofile(str(template))}
    assert marked - known == set(), "run `make messages` and translate the new strings"


def _ours(path: Path) -> bool:
    parts = path.relative_to(settings.BASE_DIR).parts
    return parts[0] not in {".venv", "tests", "node_modules"} and "migrations" not in parts


def test_the_compiled_catalogue_matches_the_translations():
    po = polib.pofile(str(CATALOGUE / "django.po"))
    mo = polib.mofile(str(CATALOGUE / "django.mo"))
    compiled = {(e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural) for e in mo}
    for entry in po:
        got = compiled.get((entry.msgctxt, entry.msgid))
        assert got is not None, f"not compiled: {entry.msgid!r}; run `make messages`"
        if entry.msgid_plural:
            assert got[1].get(0) == entry.msgstr_plural[0], entry.msgid
        else:
            assert got[0] == entry.msgstr, entry.msgid
