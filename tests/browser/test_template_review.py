"""A template from first draft to a test send, in a browser: an operator writes it and watches the preview
follow the typing, submits it; a reviewer approves it from the review queue; the operator sees it approved
and sends a test, which arrives at the sink with the sample data filled in."""

import pytest
from django.test import override_settings

from accounts.audit import SYSTEM
from accounts.models import Membership, User
from accounts.services import user_signup
from sending.services.lists import list_create, recipients_save
from sending.services.senders import sender_address_create
from tests.browser.conftest import log_in, screenshot
from tests.sending.helpers import verified_domain
from tests.smtpsink import SmtpSink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long Password 2026"


def test_write_review_approve_and_send_a_test(new_page):
    _owner, account, _created = user_signup(
        email="owner@example.com", password=PASSWORD, account_name="Shop", actor=SYSTEM
    )
    for email, role in (("writer@example.com", "operator"), ("checker@example.com", "reviewer")):
        user = User.objects.create_user(email=email, password=PASSWORD)
        Membership.objects.create(account=account, user=user, role=role)
    domain = verified_domain(account, "mail.shop.example")
    sender_address_create(
        account=account, domain=domain, local_part="hello", send_type="trigger", actor=SYSTEM
    )
    members = list_create(account=account, name="会员", actor=SYSTEM)
    recipients_save(recipient_list=members, details=[{"e": "li@example.org", "u": "李雷"}], actor=SYSTEM)

    with (
        SmtpSink() as sink,
        override_settings(DELIVERY_MODE="relay", SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}"),
    ):
        writer = new_page()
        log_in(writer, "writer@example.com", PASSWORD)
        writer.get_by_role("link", name="Templates").first.click()
        writer.get_by_role("link", name="New template").click()
        writer.get_by_label("Name").fill("welcome")
        writer.get_by_role("button", name="Create template").click()
        writer.get_by_label("Subject").fill("Welcome, {UserName}")
        body = writer.get_by_role("textbox", name="Body", exact=True)  # the code editor
        body.fill("<h1>Hello {UserName}</h1><p>Glad you are here.</p>")
        assert writer.title() == "welcome · directmail"  # no markup in the browser's title
        # A row appeared for the new variable.
        writer.locator("#sample-table input[aria-label='UserName']").fill("Ann")
        preview = writer.frame_locator("#preview")
        preview.get_by_role("heading", name="Hello Ann").wait_for()  # the preview followed the typing
        assert writer.locator("#preview-subject").inner_text() == "Welcome, Ann"
        body.fill("<h1>Hi {UserName}</h1><p>Glad you are here.</p>")
        preview.get_by_role("heading", name="Hi Ann").wait_for()
        # Sample data from a row of a recipient list, as a batch send would fill it in.
        writer.locator("#sample-list").select_option(label="会员")
        writer.get_by_role("button", name="Use it").click()
        preview.get_by_role("heading", name="Hi 李雷").wait_for()
        writer.locator("#sample-table input[aria-label='UserName']").fill("Ann")
        writer.get_by_role("button", name="Save draft").click()
        writer.get_by_text("saved as a draft").wait_for()
        # The sample data was kept with the draft: the preview reads "Hi Ann", not "Hi ".
        assert writer.locator("#sample-table input[aria-label='UserName']").input_value() == "Ann"
        preview.get_by_role("heading", name="Hi Ann").wait_for()
        writer.get_by_role("button", name="Submit for review").click()
        writer.get_by_text("submitted for review").wait_for()
        screenshot(writer, "template-submitted")

        checker = new_page()
        log_in(checker, "checker@example.com", PASSWORD)
        checker.get_by_role("link", name="Templates").first.click()
        checker.get_by_role("link", name="Review queue").click()
        checker.get_by_role("link", name="welcome").first.click()
        # The reviewer sees the version rendered, with the template's sample data, before approving.
        checker.frame_locator("#preview").get_by_role("heading", name="Hi Ann").wait_for()
        assert checker.locator("#preview-subject").inner_text() == "Welcome, Ann"
        reject = checker.locator("#reject-form")
        button_box = reject.get_by_role("button", name="Reject").bounding_box()
        comment_box = reject.locator("textarea").bounding_box()
        assert button_box["y"] >= comment_box["y"] + comment_box["height"]  # below its textarea, not beside
        checker.get_by_role("button", name="Approve").click()
        checker.get_by_text("Version 1 is in use.").wait_for()
        checker.get_by_role("link", name="Templates").first.click()
        checker.get_by_role("link", name="Review queue").click()
        checker.get_by_text("Nothing waits for review").wait_for()

        writer.reload()
        writer.get_by_text("Version 1 is in use.").wait_for()
        writer.frame_locator("#preview").get_by_role("heading", name="Hi Ann").wait_for()  # rendered
        writer.locator("#test-to").fill("ann@example.org")
        writer.get_by_role("button", name="Send a test").click()
        writer.get_by_text("queued to ann@example.org").wait_for()
        screenshot(writer, "template-test-sent")

    [received] = sink.messages
    assert received.rcpt_tos == ["ann@example.org"]
    assert b"Subject: Welcome, Ann" in received.data
    assert b"Hi Ann" in received.data
