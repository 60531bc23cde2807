"""UnSubscribeLinkType and UnSubscribeFilterLevel as DirectMail documents them, through the SDK: the link
at the listed providers for batch addresses, and whose unsubscribes stop a send at each filter level."""

import pytest
from alibabacloud_dm20151123 import models as dm
from Tea.exceptions import TeaException

from accounts.audit import SYSTEM
from sending.models import CapturedMessage, Message, MessageState, Suppression, SuppressionReason
from sending.services.senders import sender_address_create
from tests.api.clients import tea_client

pytestmark = pytest.mark.django_db(transaction=True)

PEOPLE = {
    "this-sender@example.org": "news@mail.example.com",  # unsubscribed from this very address
    "sibling@example.org": "promo@mail.example.com",  # from another address of the same domain
    "elsewhere@example.org": "shop@other.example",  # from a sender of another domain of the account
    "everything@example.org": "",  # from all of the account's mail
}


@pytest.fixture
def news(api):
    sender_address_create(account=api["account"], domain=api["domain"], local_part="news", send_type="batch",
                          actor=SYSTEM)  # fmt: skip
    for address, scope in PEOPLE.items():
        Suppression.objects.create(
            account=api["account"], address=address, scope=scope, reason=SuppressionReason.UNSUBSCRIBE
        )
    Suppression.objects.create(account=api["account"], address="bounced@example.org", reason="hard_bounce")
    return api


def send(api, sender: str, to: list[str], **fields) -> dict[str, str]:
    env_id = tea_client(api).single_send_mail(
        dm.SingleSendMailRequest(
            account_name=sender, address_type=1, reply_to_address=False, to_address=",".join(to),
            subject="News", html_body="<p>Spring news</p>", **fields,
        )
    ).body.env_id  # fmt: skip
    return dict(Message.objects.filter(envelope__env_id=env_id).values_list("rcpt", "state"))


def stopped(states: dict[str, str]) -> set[str]:
    return {rcpt for rcpt, state in states.items() if state == MessageState.INVALID}


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("disabled", set()),
        ("mailfrom", {"this-sender@example.org", "everything@example.org"}),
        ("default", {"this-sender@example.org", "everything@example.org"}),  # batch: the sender's level
        ("mailfrom_domain", {"this-sender@example.org", "sibling@example.org", "everything@example.org"}),
        ("edm_id", set(PEOPLE)),
    ],
)
def test_filter_levels_from_a_batch_address(news, level, expected):
    states = send(
        news, "news@mail.example.com", [*PEOPLE, "bounced@example.org"], un_subscribe_filter_level=level
    )
    assert stopped(states) == expected | {"bounced@example.org"}  # a hard bounce stops mail at every level


def test_a_trigger_address_filters_no_unsubscribes_by_default(news):
    states = send(news, "noreply@mail.example.com", [*PEOPLE, "bounced@example.org"])
    assert stopped(states) == {"bounced@example.org"}


def unsubscribe_headers(rcpt: str) -> bool:
    raw = bytes(CapturedMessage.objects.get(message__rcpt=rcpt).raw)
    return b"List-Unsubscribe:" in raw.partition(b"\r\n\r\n")[0]


def test_default_link_only_at_the_listed_providers_and_only_from_batch_addresses(news):
    send(news, "news@mail.example.com", ["ann@gmail.com", "bob@outlook.com", "cai@example.net"])
    assert unsubscribe_headers("ann@gmail.com") and unsubscribe_headers("bob@outlook.com")
    assert not unsubscribe_headers("cai@example.net")
    send(news, "noreply@mail.example.com", ["dan@gmail.com"])
    assert not unsubscribe_headers("dan@gmail.com")
    send(news, "news@mail.example.com", ["eve@yahoo.com"], un_subscribe_link_type="disabled")
    assert not unsubscribe_headers("eve@yahoo.com")


def test_unknown_values_are_refused(news):
    for fields in ({"un_subscribe_link_type": "always"}, {"un_subscribe_filter_level": "global"}):
        with pytest.raises(TeaException) as caught:
            send(news, "news@mail.example.com", ["a@example.net"], **fields)
        assert caught.value.code == "InvalidParameter"


def test_an_smtp_message_from_a_batch_address_gets_the_headers_at_the_listed_providers(news):
    """SMTP mail is relayed as written: the unsubscribe headers are added, the body is left alone."""
    from sending.services import messages as service

    raw = b"Received: from x\r\nFrom: news@mail.example.com\r\nSubject: Hi\r\n\r\nHello\r\n"
    for rcpt in ("ann@gmail.com", "cai@example.net"):
        service.message_enqueue(
            service.Mail(
                account=news["account"], sender="news@mail.example.com", to=rcpt, source="smtp",
                content=service.Content(subject="Hi", raw_message=raw, unsubscribe_link=True,
                                        unsubscribe_providers_only=True, unsubscribe_filter="default"),
            )
        )  # fmt: skip
    assert unsubscribe_headers("ann@gmail.com") and not unsubscribe_headers("cai@example.net")
    captured = bytes(CapturedMessage.objects.get(message__rcpt="ann@gmail.com").raw)
    assert captured.endswith(b"\r\n\r\nHello\r\n")
