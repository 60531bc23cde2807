"""The README's first ten minutes on a fresh database, with a real worker (a django-q2 cluster with its
schedules) beside the live server: sign up, send a test message from the sandbox, see it in the Outbox and
on the Overview's numbers. Then a recipient list at 1400 px: its whole table fits."""

import sys
import time
from unittest import mock

import pytest
from django_q.conf import Conf

from accounts.audit import SYSTEM
from accounts.models import Account
from sending.lists.fields import clean_recipient
from sending.models import CapturedMessage, Domain, DomainStatus
from sending.services import lists as list_service
from tests.browser.conftest import screenshot, sign_up
from tests.processes import MANAGE, child_env, database_url, start_group, stop_group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long Password 2026"


@pytest.fixture
def worker():
    """`manage.py qcluster` on the test database, schedules and all; the live server's kicks reach it."""
    cluster = start_group([sys.executable, MANAGE, "qcluster"], child_env(database_url(), Q_SYNC="false"))
    try:
        with mock.patch.object(Conf, "SYNC", False):
            yield cluster
    finally:
        stop_group(cluster)


def test_sign_up_and_send_a_first_message_from_the_sandbox_into_the_outbox(new_page, worker):
    page = new_page()
    sign_up(page, name="Zhang Wei", email="wei@example.com", password=PASSWORD, account="Wei Shop")
    assert page.get_by_role("link", name="Add your domain").is_visible()

    page.get_by_role("link", name="Send a test message now").click()
    assert page.get_by_label("To").input_value() == "wei@example.com"  # everything filled in
    assert "sandbox: Outbox only" in page.get_by_label("From").inner_text()
    page.get_by_role("button", name="Send test message").click()
    page.get_by_text("Accepted with EnvId").wait_for()

    account = Account.objects.get(name="Wei Shop")
    deadline = time.monotonic() + 60  # the worker delivers it (into the Outbox: it is sandbox mail)
    while not CapturedMessage.objects.filter(account=account).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert CapturedMessage.objects.filter(account=account).exists(), "the worker did not deliver it"
    page.get_by_role("link", name="Outbox").first.click()
    page.locator("#outbox-table").get_by_text("A first message from directmail").wait_for()
    page.locator("#outbox-table").get_by_role("link", name="wei@example.com").click()
    assert "wei@example.com" in page.locator("#outbox-summary").inner_text()
    screenshot(page, "first-message-in-the-outbox")

    page.get_by_role("link", name="Overview").first.click()
    assert page.locator("[data-today='requests']").inner_text() == "1"
    assert page.locator("[data-today='delivered']").inner_text() == "1"
    # The cluster ran with its schedules (a fresh install's): the sandbox is as it was, and may send.
    assert Domain.objects.get(account=account, sandbox=True).status == DomainStatus.VERIFIED


def test_a_recipient_list_fits_a_1400_pixel_screen(new_page):
    from accounts.services import user_signup

    _user, account, _ = user_signup(
        email="lists@example.com", password=PASSWORD, account_name="Lists", actor=SYSTEM
    )
    members = list_service.list_create(account=account, name="Members", actor=SYSTEM)
    clean = clean_recipient(
        "a.very.long.address.of.someone@example.org",
        {"user_name": "Someone With A Long Name", "nick_name": "Nick", "birthday": "1990/01/01",
         "mobile": "13800000000"},
        {"City": "Hangzhou", "Membership": "gold", "Since": "2019"},
    )  # fmt: skip
    list_service.recipient_add(recipient_list=members, clean=clean, actor=SYSTEM)
    page = new_page()
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/login/")
    page.get_by_label("Email").fill("lists@example.com")
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Recipient lists").first.click()
    page.locator("#lists-table").get_by_role("link", name="Members").click()
    table = page.locator("#recipients-table")
    table.wait_for()
    for name in ("Edit", "Remove"):
        box = table.get_by_role("link", name=name).bounding_box()
        assert box["x"] + box["width"] <= 1400, f"{name} is off screen at 1400 px"
    assert table.get_by_role("columnheader", name="Birthday").bounding_box()["x"] < 1400
    overflow = table.evaluate("t => t.parentElement.scrollWidth - t.parentElement.clientWidth")
    assert overflow <= 0, f"the table is {overflow} px wider than its place"
    screenshot(page, "recipient-list-1400")
