"""Egress addresses: mail leaves from this host's registered addresses with their HELO names, an account's
dedicated ones for its mail, never another host's; an address that cannot be bound is set aside; the check
reads PTR, SPF and blocklists. 127.0.0.x are real source addresses here (Linux routes 127/8 to loopback)."""

import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from sending.models import DeliveryAttempt, EgressAddress, Message, MessageState
from sending.services import messages as service
from tests.dnsserver import DnsServer
from tests.sending.helpers import smtp_sender
from tests.smtpsink import SmtpSink

pytestmark = pytest.mark.django_db(transaction=True)

DEST = "dest.test"


@pytest.fixture
def mx():
    with SmtpSink() as sink, DnsServer() as dns:
        dns.add(DEST, "MX", "10 mx.dest.test")
        dns.add("mx.dest.test", "A", "127.0.0.1")
        with override_settings(DELIVERY_MODE="mx", MX_PORT=sink.port, SMTP_TIMEOUT=5, EGRESS_HOST="worker-a"):
            yield sink, dns


def send(sender, rcpt: str) -> Message:
    enqueued = service.message_enqueue(
        service.Mail(account=sender.account, sender=sender, to=rcpt,
                     content=service.Content(subject="Hi", text_body="Hello"))
    )  # fmt: skip
    return Message.objects.get(envelope__env_id=enqueued.env_id)


def add(address: str, helo: str, **options) -> str:
    out = io.StringIO()
    call_command("egress_ip", "add", address, "--helo", helo, stdout=out, **options)
    return out.getvalue()


def test_mail_leaves_from_this_hosts_addresses_in_turn_with_their_names(mx):
    sink, _dns = mx
    sender = smtp_sender("a@example.com", "smtp-Password-2026")
    add("127.0.0.2", "mta2.example.test", host="worker-a")
    add("127.0.0.3", "mta3.example.test", host="worker-a")
    add("127.0.0.4", "mta4.example.test", host="worker-b")  # another host's: never used here
    messages = [send(sender, f"r{n}@{DEST}") for n in range(4)]
    assert {m.rcpt: m.state for m in Message.objects.all()} == {
        m.rcpt: MessageState.DELIVERED for m in messages
    }
    peers = [received.peer[0] for received in sink.messages]
    assert set(peers) == {"127.0.0.2", "127.0.0.3"}
    assert set(sink.handler.greetings) == {"mta2.example.test", "mta3.example.test"}
    assert set(DeliveryAttempt.objects.values_list("egress_ip", flat=True)) == {"127.0.0.2", "127.0.0.3"}


def test_an_accounts_dedicated_addresses_carry_its_mail_only(mx):
    sink, _dns = mx
    dedicated = smtp_sender("d@example.com", "smtp-Password-2026", domain_name="d.example.com")
    shared = smtp_sender("s@example.com", "smtp-Password-2026", domain_name="s.example.com")
    add("127.0.0.5", "own.example.test", host="worker-a", account=dedicated.account.public_id)
    add("127.0.0.6", "shared.example.test", host="worker-a")
    for _ in range(2):
        send(dedicated, f"x@{DEST}")
        send(shared, f"y@{DEST}")
    by_rcpt = {}
    for received in sink.messages:
        by_rcpt.setdefault(received.rcpt_tos[0], set()).add(received.peer[0])
    assert by_rcpt == {f"x@{DEST}": {"127.0.0.5"}, f"y@{DEST}": {"127.0.0.6"}}


def test_without_addresses_of_this_host_the_system_picks(mx):
    sink, _dns = mx
    sender = smtp_sender("a@example.com", "smtp-Password-2026")
    add("127.0.0.7", "elsewhere.example.test", host="worker-b")
    assert send(sender, f"r@{DEST}").state == MessageState.DELIVERED
    assert sink.messages[0].peer[0] == "127.0.0.1"


def test_an_address_that_cannot_be_bound_is_set_aside_and_the_mail_waits(mx):
    sink, _dns = mx
    sender = smtp_sender("a@example.com", "smtp-Password-2026")
    EgressAddress.objects.create(address="192.0.2.55", helo="gone.example.test", host="worker-a")
    message = send(sender, f"r@{DEST}")
    message.refresh_from_db()
    give_up_at = message.created_at + timedelta(seconds=settings.DELIVERY_GIVE_UP)
    assert message.state == MessageState.DEFERRED and not sink.messages
    assert "no egress address" in message.last_error
    # Waiting for the operator never fails mail: the try is given back, the give-up time moves with it.
    assert message.attempts == 0 and message.give_up_at > give_up_at
    assert EgressAddress.objects.get().bind_error  # shown to the operator (egress_ip list, admin)
    out = io.StringIO()
    call_command("egress_ip", "list", stdout=out)
    assert "BIND ERROR" in out.getvalue()


@override_settings(SPF_INCLUDE="spf.platform.test", EGRESS_DNSBL_ZONES=["bl.test", "clean.test"])
def test_the_check_reads_reverse_dns_spf_and_blocklists(mx):
    _sink, dns = mx
    dns.add("2.0.0.127.in-addr.arpa", "PTR", "mta2.example.test.")
    dns.add("mta2.example.test", "A", "127.0.0.2")
    dns.add("spf.platform.test", "TXT", "v=spf1 include:spf2.platform.test -all")
    dns.add("spf2.platform.test", "TXT", "v=spf1 ip4:127.0.0.0/29 ip6:2001:db8::/32 -all")
    dns.add("2.0.0.127.bl.test", "A", "127.0.0.2")
    report = add("127.0.0.2", "mta2.example.test", host="worker-a")
    assert "forward-confirmed" in report and "covered by spf.platform.test" in report
    assert "LISTED on bl.test" in report
    entry = EgressAddress.objects.get()
    assert (entry.ptr, entry.fcrdns, entry.spf_covered, entry.listings) == (
        "mta2.example.test", True, True, ["bl.test"],
    )  # fmt: skip
    dns.set("2.0.0.127.in-addr.arpa", "PTR", "someone-else.example.test.")
    dns.remove("2.0.0.127.bl.test")
    out = io.StringIO()
    call_command("egress_ip", "check", "127.0.0.2", stdout=out)
    assert "NOT forward-confirmed" in out.getvalue() and "on no blocklist" in out.getvalue()


def test_bad_input_is_refused_and_changes_nothing(db):
    for args, message in (
        (["add", "300.1.1.1", "--helo", "a.example.test"], "not an IPv4 or IPv6 address"),
        (["add", "127.0.0.2", "--helo", "no_dots"], "fully qualified"),
        (["add", "127.0.0.2", "--helo", "a.example.test", "--account", "nope"], "no account"),
        (["remove", "127.0.0.9"], "not registered"),
        (["add", "192.0.2.77", "--helo", "a.example.test"], "not an address of this host"),  # not here
    ):
        with pytest.raises(CommandError, match=message):
            call_command("egress_ip", *args, stdout=io.StringIO())
    assert not EgressAddress.objects.exists()


@override_settings(EGRESS_DNSBL_ZONES=["bl.test"])
def test_the_daily_check_mails_staff_a_new_listing_and_the_account_sees_it(mx, client):
    from django.core import mail as outbox

    from accounts.models import User
    from sending import tasks

    _sink, dns = mx
    sender = smtp_sender("a@example.com", "smtp-Password-2026")
    User.objects.create_user(email="ops@example.com", password="x-Password-2026", is_staff=True)
    add("127.0.0.2", "mta2.example.test", host="worker-a", account=sender.account.public_id)
    outbox.outbox.clear()
    dns.add("2.0.0.127.bl.test", "A", "127.0.0.2")
    assert tasks.recheck_egress() == 1
    [letter] = outbox.outbox
    assert letter.to == ["ops@example.com"] and "127.0.0.2" in letter.subject and "bl.test" in letter.body
    assert tasks.recheck_egress() == 1 and len(outbox.outbox) == 1  # told once, not daily
    owner = User.objects.get(email="a@example.com")
    client.force_login(owner)
    page = client.get(f"/a/{sender.account.public_id}/")
    assert "127.0.0.2 is listed on bl.test" in page.content.decode()


def test_a_refused_attempt_records_the_address_it_was_made_from(mx):
    sink, _dns = mx
    sender = smtp_sender("a@example.com", "smtp-Password-2026")
    add("127.0.0.2", "mta2.example.test", host="worker-a")
    sink.script(f"later@{DEST}", "451 4.7.1 try again later")
    message = send(sender, f"later@{DEST}")
    message.refresh_from_db()
    assert message.state == MessageState.DEFERRED
    [attempt] = DeliveryAttempt.objects.filter(message=message)
    assert (attempt.result, attempt.egress_ip) == (MessageState.DEFERRED, "127.0.0.2")
