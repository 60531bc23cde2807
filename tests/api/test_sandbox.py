"""The README's first SDK call works on a fresh account: from its sandbox address, into its Outbox, with
no DNS published. DirectMail has no sandbox, so its listings leave it out."""

import pytest
from alibabacloud_dm20151123 import models as dm
from django.test import override_settings

from sending.models import CapturedMessage, Message, MessageState
from sending.services.sandbox import sandbox_sender
from tests.api.clients import tea_client

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sdk_sends_from_the_sandbox_into_the_outbox_whatever_the_delivery_mode(api):
    sender = sandbox_sender(api["account"])
    client = tea_client(api)
    with override_settings(DELIVERY_MODE="mx", MX_PORT=9):  # mail that left would fail: nothing listens
        answer = client.single_send_mail(
            dm.SingleSendMailRequest(
                account_name=sender.address, address_type=1, reply_to_address=False,
                to_address="a@example.org", subject="Hi", html_body="<p>Hello</p>",
            )
        )  # fmt: skip
    message = Message.objects.get(envelope__env_id=answer.body.env_id)
    assert message.state == MessageState.DELIVERED
    assert CapturedMessage.objects.filter(message=message).exists()


def test_directmails_listings_leave_the_sandbox_out(api):
    client = tea_client(api)
    domains = client.query_domain_by_param(dm.QueryDomainByParamRequest()).body
    assert domains.total_count == 1
    assert [d.domain_name for d in domains.data.domain] == ["mail.example.com"]
    senders = client.query_mail_address_by_param(dm.QueryMailAddressByParamRequest()).body
    assert [s.account_name for s in senders.data.mail_address] == ["noreply@mail.example.com"]
