"""{Variable} substitution: plain, escaped where it must be, and blind to braces that are not variables."""

import html

from hypothesis import given
from hypothesis import strategies as st

from templates_app.rendering import render_html, render_subject, render_text, variables_in


def test_variables_are_filled_and_missing_ones_are_empty():
    assert render_text("Hi {UserName}, {Missing}!", {"UserName": "Ann"}) == "Hi Ann, !"


def test_html_values_are_escaped_and_markup_braces_left_alone():
    markup = "<style>p {color: red}</style><p title='{NickName}'>{NickName}</p>{{UserName}} { UserName }"
    rendered = render_html(markup, {"NickName": '<b>"x"</b>', "UserName": "U"})
    assert rendered == (
        "<style>p {color: red}</style><p title='&lt;b&gt;&quot;x&quot;&lt;/b&gt;'>"
        "&lt;b&gt;&quot;x&quot;&lt;/b&gt;</p>{U} { UserName }"
    )


def test_no_logic_attributes_or_template_tags():
    data = {"UserName": "Ann"}
    for text in ("{UserName.__class__}", "{% load x %}", "{{ UserName|upper }}", "{UserName[0]}", "{0}"):
        assert render_text(text, data) == text


def test_a_subject_never_gains_a_line_break():
    assert render_subject("Hello {UserName}", {"UserName": "Ann\r\nBcc: x@evil.example"}) == (
        "Hello Ann Bcc: x@evil.example"
    )


def test_variables_in_lists_each_name_once_in_order():
    assert variables_in("{B} {A}", "{B} {C} {not a var}") == ["B", "A", "C"]


@given(st.text(), st.dictionaries(st.from_regex(r"[A-Za-z_]\w{0,10}", fullmatch=True), st.text()))
def test_text_without_placeholders_is_unchanged(text, data):
    if not variables_in(text):
        assert render_text(text, data) == text
        assert render_subject(text, data) == text


def test_unicode_values_and_names_around_them():
    assert render_subject("订单 {UserName} 已发货", {"UserName": "张三"}) == "订单 张三 已发货"
    assert render_html("<p>{NickName} ✓</p>", {"NickName": "Zoë <3"}) == "<p>Zoë &lt;3 ✓</p>"


def test_values_in_urls_and_attributes_are_checked_for_their_context():
    """An approved `<a href="{Link}">` cannot become a script link, whatever the value."""
    hostile = ("javascript:alert(document.cookie)", " JaVa\tScRiPt:alert(1)", "vbscript:x", "data:text/html",
               "\x01javascript:alert(1)")  # fmt: skip
    for link in hostile:
        rendered = render_html('<a href="{Link}" title="t">go</a>', {"Link": link})
        assert rendered == '<a  title="t">go</a>', link
    for link in (
        "https://shop.example.com/o?id=1&x=2",
        "mailto:help@example.com",
        "/relative",
        "tel:+861234",
    ):
        rendered = render_html("<a href='{Link}'>go</a>", {"Link": link})
        assert rendered == f"<a href='{html.escape(link)}'>go</a>"
    # A value after a safe scheme stays inside the URL; quotes cannot end the attribute.
    rendered = render_html('<a href="https://x.example/{P}">go</a>', {"P": '" onclick="alert(1)'})
    assert rendered == '<a href="https://x.example/&quot; onclick=&quot;alert(1)">go</a>'
    # Unquoted values are quoted; placeholders outside values add no attribute.
    assert render_html("<img src={S} {Attr}>", {"S": "a.png onerror=alert(1)", "Attr": "onload=x()"}) == (
        '<img src="a.png onerror=alert(1)" >'
    )
    assert render_html('<img srcset="{A} 1x, {B} 2x">', {"A": "a.png", "B": "javascript:x"}) == "<img >"
    assert render_html('<p style="color:{C}">x</p>', {"C": "red;background:url(javascript:x)"}) == (
        '<p style="color:redbackgroundurljavascriptx">x</p>'
    )
    assert render_html('<p title="{T}">{T}</p>', {"T": "{Other}"}) == '<p title="{Other}">{Other}</p>'
