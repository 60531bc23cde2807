"""The sanitizer keeps email-safe markup and never lets an XSS/mXSS payload through."""

import re

import pytest

from templates_app.sanitize import sanitize

EMAIL = """<table role="presentation" width="100%" cellpadding="0" cellspacing="0" bgcolor="#ffffff">
<tr><td align="center" style="padding: 16px; font-family: Arial, sans-serif; color: #333333">
<h1 style="font-size: 22px">Hello {UserName}</h1>
<p>Your order <b>#{OrderId}</b> has shipped.
<a href="https://shop.example.com/track?id={OrderId}" target="_blank">Track it</a></p>
<img src="https://cdn.example.com/logo.png" alt="Shop" width="120" height="40" border="0">
<p style="font-size: 12px; color: #999999">Questions?
<a href="mailto:help@example.com">help@example.com</a></p>
</td></tr></table>"""

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    "<svg><script>alert(1)</script></svg>",
    "<svg onload=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<style>@import 'javascript:alert(1)';</style>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<p style="width: expression(alert(1))">x</p>',
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    '<iframe src="https://evil.example"></iframe>',
    '<object data="evil.swf"></object><embed src="evil.swf">',
    '<form action="https://evil.example"><input name=p><button>go</button></form>',
    "<body onload=alert(1)>",
    '<div onmouseover="alert(1)">x</div>',
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel=stylesheet href="javascript:alert(1)">',
    "<textarea><script>alert(1)</script></textarea>",
    "<select><template><style><img src=x onerror=alert(1)></style></template></select>",
    "<p><style><img src=x onerror=alert(1)></style></p>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<img src=`javascript:alert(1)`>",
    '<a href=" javascript:alert(1)">x</a>',
]

DANGER = re.compile(
    r"<\s*(script|svg|math|iframe|object|embed|form|style|base|meta|link)\b|\son\w+\s*=|javascript:|vbscript:|"
    r"data:|expression\(",
    re.I,
)


def test_email_markup_survives():
    result = sanitize(EMAIL)
    assert result.removed == []
    for kept in (
        'cellpadding="0"',
        'style="padding: 16px;',
        'href="https://shop.example.com/track?id={OrderId}"',
        'href="mailto:help@example.com"',
        'src="https://cdn.example.com/logo.png"',
        "{UserName}",
    ):
        assert kept in result.html, kept


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_payload_survives(payload):
    result = sanitize(f"<p>before</p>{payload}<p>after</p>")
    assert not DANGER.search(result.html), result.html
    assert "<p>before</p>" in result.html and "<p>after</p>" in result.html


def test_sanitizing_twice_changes_nothing():
    for payload in PAYLOADS:
        once = sanitize(payload).html
        assert sanitize(once).html == once


def test_the_report_names_what_was_removed():
    removed = sanitize('<p onclick="x()">a</p><script>x()</script><a href="javascript:x()">b</a>').removed
    assert "<script> (1)" in removed
    assert "onclick on <p> (1)" in removed
    assert any(item.startswith("href=javascript: on <a>") for item in removed)
