"""The template editor in a browser: type in the code editor and complete a variable, see the preview at
mobile width, in dark mode, without images and as its text part, see a check fire and clear, write MJML
with an error, see it at its line and fix it, save; and the same page in Simplified Chinese."""

import pytest

from accounts.audit import SYSTEM
from accounts.services import user_signup
from templates_app.services import template_create
from tests.browser.conftest import log_in, screenshot, switch_to_chinese
from tests.browser.test_chinese import english_left

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long Password 2026"
MJML = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hello {UserName}, our sale starts today.
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"""


def body_editor(page):
    return page.get_by_role("textbox", name="Body", exact=True)


def test_write_preview_check_and_mjml(new_page):
    _owner, account, _created = user_signup(
        email="owner@example.com", password=PASSWORD, account_name="Shop", actor=SYSTEM
    )
    template = template_create(account=account, name="news", actor=SYSTEM)
    page = new_page()
    log_in(page, "owner@example.com", PASSWORD)
    page.goto(f"/a/{account.public_id}/templates/{template.public_id}/")
    page.get_by_label("Subject").fill("News for {UserName}")

    # Typing in the code editor, and completing a variable after "{".
    editor = body_editor(page)
    editor.click()
    page.keyboard.type("<h1>Hello {User")
    option = page.locator(".cm-tooltip-autocomplete li", has_text="{UserName}")
    option.wait_for()
    page.keyboard.press("Enter")
    page.keyboard.type("</h1><p>Our sale starts today: <a href='https://shop.example/sale'>see it</a>.</p>")
    assert page.locator("#id_html_body").input_value().startswith("<h1>Hello {UserName}</h1>")
    page.locator("#sample-table input[aria-label='UserName']").fill("Ann")
    preview = page.frame_locator("#preview")
    preview.get_by_role("heading", name="Hello Ann").wait_for()
    assert page.locator("#preview-subject").inner_text() == "News for Ann"
    assert "Hello Ann" in page.locator("#preview-preheader").inner_text()  # the inbox line
    page.get_by_label("Sender name").fill("Tea Shop")
    page.locator("#inbox-from").get_by_text("Tea Shop").wait_for()

    # Mobile width, dark mode, images blocked, the text part.
    page.get_by_role("button", name="Mobile").click()
    assert page.locator("#preview").evaluate("f => f.getBoundingClientRect().width") == 375
    page.get_by_label("Dark mode").check()
    page.wait_for_function("() => document.getElementById('preview').src.includes('dark=1')")
    preview.locator("html").wait_for()
    page.get_by_label("Images").uncheck()
    page.wait_for_function("() => document.getElementById('preview').src.includes('images=0')")
    screenshot(page, "template-editor-mobile-dark")
    page.get_by_role("button", name="Text part").click()
    text = page.locator("#preview-text")
    text.get_by_text("see it (https://shop.example/sale)").wait_for()
    page.get_by_role("button", name="HTML", exact=True).click()
    page.get_by_role("button", name="Desktop").click()

    # A check fires (an image without alt text, over http) and clears when fixed.
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("<img src='http://shop.example/banner.png'>")
    page.locator("#checks [data-check=img_alt]").wait_for()
    page.locator("#checks [data-check=insecure]").wait_for()
    screenshot(page, "template-editor-checks")
    editor.fill("<h1>Hello {UserName}</h1><p>Our sale starts today.</p>"
                "<img src='https://shop.example/banner.png' alt='The sale'>")  # fmt: skip
    page.locator("#checks [data-check=img_alt]").wait_for(state="detached")
    assert page.locator("#checks [data-check=insecure]").count() == 0

    # MJML: an error at its line, then fixed; the compiled layout in the preview.
    page.get_by_label("MJML").check()
    editor.fill(MJML)
    error = page.locator("#source-error")
    error.get_by_text("Line 6: </mj-column> closes <mj-text>, opened on line 5.").wait_for()
    page.locator(".cm-lintRange-error").first.wait_for()  # marked in the editor
    screenshot(page, "template-editor-mjml-error")
    editor.fill(MJML.replace("today.\n", "today.</mj-text>\n"))
    error.wait_for(state="hidden")
    preview.get_by_text("Hello Ann, our sale starts today.").wait_for()
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Version 1 saved as a draft.").wait_for()
    version = template.latest_version()
    assert (version.body_format, version.source.startswith("<mjml>")) == ("mjml", True)
    assert "<table" in version.html_body
    assert body_editor(page).inner_text().startswith("<mjml>")  # the editor shows what was written


def test_the_editor_in_chinese(new_page, live_server):
    _owner, account, _created = user_signup(
        email="owner@example.com", password=PASSWORD, account_name="商城", actor=SYSTEM
    )
    template = template_create(account=account, name="周报", subject="你好 {UserName}",
                               html_body="<p>你好 {UserName}</p><img src='http://x.example/a.png'>",
                               actor=SYSTEM)  # fmt: skip
    page = new_page()
    log_in(page, "owner@example.com", PASSWORD)
    switch_to_chinese(page)
    page.goto(f"/a/{account.public_id}/templates/{template.public_id}/")
    page.locator("#checks [data-check=img_alt]").wait_for()
    page.get_by_role("button", name="手机").click()
    page.get_by_role("button", name="纯文本部分").click()
    page.locator("#preview-text").get_by_text("你好").wait_for()
    assert english_left(page) == [], f"English left on {page.url}"
    screenshot(page, "zh-template-editor")
    page.get_by_label("MJML").check()
    page.get_by_role("textbox", name="正文", exact=True).fill(MJML)
    # In Chinese, but for the element names it quotes.
    zh_error = "第 6 行：</mj-column> 闭合了第 5 行打开的 <mj-text>。"  # noqa: RUF001 - Chinese punctuation
    page.locator("#source-error").get_by_text(zh_error).wait_for()
