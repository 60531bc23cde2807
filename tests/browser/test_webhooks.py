"""Webhooks in a browser: an owner adds an endpoint, copies the secret shown once, sends a test event, then
a real delivery arrives at the receiver signed with that secret and shows in the endpoint's event log."""

import json

import pytest
from django.test import override_settings

from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending.delivery.worker import deliver_due
from sending.services.messages import Content, Mail, message_enqueue
from sending.services.senders import sender_address_create
from stats import webhooks
from tests.browser.conftest import log_in, screenshot
from tests.sending.helpers import verified_domain
from tests.stats.receiver import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long Password 2026"


def test_an_owner_adds_an_endpoint_and_receives_signed_events(new_page, live_server):
    _owner, account, _created = user_signup(
        email="owner@example.com", password=PASSWORD, account_name="Shop", actor=SYSTEM
    )
    sender = sender_address_create(
        account=account, domain=verified_domain(account, "mail.shop.example"), local_part="hi",
        send_type="trigger", actor=SYSTEM,
    )  # fmt: skip
    with (
        Receiver() as receiver,
        override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True, DELIVERY_MODE="capture"),
    ):
        page = new_page()
        log_in(page, "owner@example.com", PASSWORD)
        page.get_by_role("link", name="Webhooks").click()
        page.get_by_text("No endpoints yet").wait_for()
        page.get_by_role("link", name="Add endpoint").click()
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Opened").check()
        page.get_by_role("button", name="Save endpoint").click()
        secret = page.locator("#webhook-secret").inner_text()
        assert secret.startswith("whsec_")
        screenshot(page, "webhook-secret")
        page.get_by_role("link", name="I saved the secret").click()
        assert secret not in page.content()

        page.get_by_role("button", name="Send test event").click()
        page.get_by_text("Test event delivered").wait_for()
        [(headers, body)] = receiver.received
        assert webhooks.verify(secret, headers["X-DirectMail-Signature"], body)

        message_enqueue(
            Mail(
                account=account,
                sender=sender,
                to="ann@dest.test",
                content=Content(subject="Hi", text_body="Hello"),
            )
        )
        deliver_due(max_seconds=10)  # the webhook kick runs inline here, as a worker would soon after
        headers, body = receiver.received[-1]
        assert webhooks.verify(secret, headers["X-DirectMail-Signature"], body)
        event = json.loads(body)
        assert (event["type"], event["data"]["rcpt"]) == ("dm:Deliver:Succeed", "ann@dest.test")

        page.reload()
        page.locator("#events-table").get_by_text("ann@dest.test").wait_for()
        screenshot(page, "webhook-endpoint")
        page.locator("#events-table a").first.click()
        page.locator("#payload").get_by_text(event["id"]).first.wait_for()
        screenshot(page, "webhook-event")
