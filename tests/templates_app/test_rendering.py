"""{Variable} substitution: plain, escaped where it must be, and blind to braces that are not variables."""

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
