"""A test send from the console in a browser: accepted, delivered by the worker, shown in the Outbox."""

import pytest
from django.test import override_settings

from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending.services.senders import sender_address_create
from tests.browser.conftest import screenshot
from tests.sending.helpers import verified_domain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long Password 2026"


@override_settings(DELIVERY_MODE="capture")
def test_send_from_the_console_and_read_it_in_the_outbox(new_page):
    _user, account, _created = user_signup(
        email="ops@example.com", password=PASSWORD, account_name="Shop", actor=SYSTEM
    )
    domain = verified_domain(account, "mail.shop.example")
    sender_address_create(
        account=account, domain=domain, local_part="hello", send_type="trigger", actor=SYSTEM
    )

    page = new_page()
    page.goto("/login/")
    page.get_by_label("Email").fill("ops@example.com")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("link", name="Messages").first.click()
    page.get_by_role("link", name="Send a test message").click()
    page.get_by_label("To").fill("friend@example.org")
    page.get_by_label("Subject").fill("订单已发货 — your order shipped")
    page.get_by_label("HTML body").fill("<h1>Shipped!</h1><p>It is on its way.</p>")
    page.get_by_role("button", name="Send test message").click()
    page.get_by_text("Accepted with EnvId").wait_for()
    assert page.locator("#messages-table tbody tr").count() == 1
    assert page.locator("#messages-table .badge").inner_text() == "Delivered"

    page.get_by_role("link", name="Outbox").first.click()
    page.get_by_role("link", name="friend@example.org").click()
    frame = page.frame_locator("iframe")
    frame.get_by_role("heading", name="Shipped!").wait_for()
    screenshot(page, "outbox-message")
    page.get_by_role("tab", name="Headers").click()
    page.get_by_role("rowheader", name="DKIM-Signature").wait_for()
