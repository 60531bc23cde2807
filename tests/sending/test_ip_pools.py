"""IP pools, configuration sets and warm-up, end to end over loopback: staff register addresses, an
account pools two of them and binds its batch sender to a configuration set with that pool; the sink
records the peer address and HELO name of every delivery. Warm-up days are simulated by moving the day
warm-up counts in (sending.warmup.today) and making the waiting mail due, as midnight would."""

import io
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from accounts.audit import SYSTEM
from sending import warmup
from sending.delivery import worker
from sending.models import EgressAddress, IpPool, Message, MessageState, WarmupDay, WarmupType
from sending.services import egress as service
from sending.services import messages as mail
from sending.services.senders import sender_address_create
from tests.dnsserver import DnsServer
from tests.sending.helpers import smtp_sender
from tests.smtpsink import SmtpSink

pytestmark = pytest.mark.django_db(transaction=True)

DEST = "gmail.com"  # a provider with its own caps (sending.esp)


@pytest.fixture
def mx():
    with SmtpSink() as sink, DnsServer() as dns:
        dns.add(DEST, "MX", "10 mx.dest.test")
        dns.add("mx.dest.test", "A", "127.0.0.1")
        with override_settings(DELIVERY_MODE="mx", MX_PORT=sink.port, SMTP_TIMEOUT=5, EGRESS_HOST="worker-a"):
            yield sink


def add(address: str, helo: str, **options) -> EgressAddress:
    call_command("egress_ip", "add", address, "--helo", helo, "--host", "worker-a", stdout=io.StringIO(),
                 **options)  # fmt: skip
    return EgressAddress.objects.get(address=address)


@pytest.fixture
def account_with_pool(mx):
    """The done-when setup: three addresses (two dedicated to the account, one shared), a pool of the two,
    a configuration set with the pool bound to the batch sender."""
    trigger = smtp_sender("owner@example.com", "smtp-Password-2026")
    account = trigger.account
    batch_sender = sender_address_create(
        account=account, domain=trigger.domain, local_part="news", send_type="batch", actor=SYSTEM
    )
    first = add("127.0.0.2", "mta2.example.test", account=account.public_id)
    second = add("127.0.0.3", "mta3.example.test", account=account.public_id)
    add("127.0.0.4", "shared.example.test")
    pool = service.pool_create(account=account, name="campaigns", addresses=[first, second], actor=SYSTEM)
    config = service.config_set_create(account=account, name="batch", pool=pool, actor=SYSTEM)
    service.config_set_bind(config=config, sender=batch_sender, actor=SYSTEM)
    return mx, trigger, batch_sender, config, [first, second]


def send(sender, count: int, prefix: str = "r") -> list[Message]:
    rcpts = [f"{prefix}{n}@{DEST}" for n in range(count)]
    enqueued = mail.message_enqueue(
        mail.Mail(account=sender.account, sender=sender, to=rcpts,
                  content=mail.Content(subject="Hi", text_body="Hello"))
    )  # fmt: skip
    return list(Message.objects.filter(envelope__env_id=enqueued.env_id).order_by("pk"))


def peers(sink, rcpt_prefix: str = "") -> list[str]:
    return [r.peer[0] for r in sink.messages if r.rcpt_tos[0].startswith(rcpt_prefix)]


def test_batch_mail_leaves_from_the_pool_and_trigger_mail_from_the_shared_address(account_with_pool):
    sink, trigger, batch_sender, _config, _addresses = account_with_pool
    send(batch_sender, 6, "b")
    send(trigger, 2, "t")
    assert set(Message.objects.values_list("state", flat=True)) == {MessageState.DELIVERED}
    assert set(peers(sink, "b")) == {"127.0.0.2", "127.0.0.3"}  # both addresses of the pool, in turn
    assert set(peers(sink, "t")) == {"127.0.0.4"}
    assert set(sink.handler.greetings) == {"mta2.example.test", "mta3.example.test", "shared.example.test"}


def test_the_calls_pool_wins_over_the_senders_set(account_with_pool):
    sink, trigger, _batch_sender, _config, addresses = account_with_pool
    solo = service.pool_create(account=trigger.account, name="solo", addresses=[], actor=SYSTEM)
    service.pool_update(pool=solo, addresses=[addresses[1]], actor=SYSTEM)  # moves it out of "campaigns"
    mail.message_enqueue(
        mail.Mail(account=trigger.account, sender=trigger, to=f"x@{DEST}", ip_pool_id=solo.pk,
                  content=mail.Content(subject="Hi", text_body="Hello"))
    )  # fmt: skip
    assert peers(sink) == ["127.0.0.3"]


def test_a_system_managed_pool_stops_at_its_caps_and_the_rest_waits_for_the_next_day(
    account_with_pool, monkeypatch
):
    sink, _trigger, batch_sender, _config, addresses = account_with_pool
    monkeypatch.setattr(warmup, "CURVE", (2, 4, 8))
    for entry in addresses:
        service.warmup_change(entry=entry, warmup=WarmupType.SYSTEM, actor=SYSTEM)
    day = warmup.today()
    monkeypatch.setattr(warmup, "today", lambda: day)
    messages = send(batch_sender, 7)
    states = [m.state for m in Message.objects.order_by("pk")]
    assert states.count(MessageState.DELIVERED) == 4  # two per address
    waiting = Message.objects.filter(state=MessageState.DEFERRED)
    assert waiting.count() == 3
    for message in waiting:
        # Waiting is not failing: no try spent, the give-up time moved, due at the next day.
        assert message.attempts == 0 and "warm-up" in message.last_error
        assert message.next_attempt_at >= warmup.next_day_starts()
        assert message.give_up_at > message.created_at + timedelta(seconds=settings.DELIVERY_GIVE_UP)
    assert {(r.address.address, r.sent, r.cap) for r in WarmupDay.objects.all()} == {
        ("127.0.0.2", 2, 2), ("127.0.0.3", 2, 2),
    }  # fmt: skip

    # The next day: step 1 (cap 4 each), the waiting mail goes.
    day = day + timedelta(days=1)
    Message.objects.filter(state=MessageState.DEFERRED).update(next_attempt_at=timezone.now())
    worker.deliver_due(max_seconds=10)
    assert set(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("state", flat=True)) == {
        MessageState.DELIVERED
    }
    assert len(sink.messages) == 7
    assert set(WarmupDay.objects.filter(day=day).values_list("step", "cap")) == {(1, 4)}
    assert {p for p in peers(sink)} == {"127.0.0.2", "127.0.0.3"}


def test_the_configuration_set_may_back_off_to_the_shared_address(account_with_pool, monkeypatch):
    sink, _trigger, batch_sender, config, addresses = account_with_pool
    monkeypatch.setattr(warmup, "CURVE", (1,))
    for entry in addresses:
        service.warmup_change(entry=entry, warmup=WarmupType.SYSTEM, actor=SYSTEM)
    service.config_set_update(config=config, backoff=True, actor=SYSTEM)
    send(batch_sender, 5)
    assert set(Message.objects.values_list("state", flat=True)) == {MessageState.DELIVERED}
    assert sorted(peers(sink)) == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.4", "127.0.0.4"]


def test_a_day_with_many_deferrals_holds_the_step(account_with_pool, monkeypatch):
    sink, _trigger, batch_sender, _config, addresses = account_with_pool
    monkeypatch.setattr(warmup, "CURVE", (4, 8, 16))
    service.pool_update(pool=IpPool.objects.get(name="campaigns"), addresses=[addresses[0]], actor=SYSTEM)
    service.warmup_change(entry=addresses[0], warmup=WarmupType.SYSTEM, actor=SYSTEM)
    day = date(2026, 12, 1)
    monkeypatch.setattr(warmup, "today", lambda: day)
    sink.script(f"r0@{DEST}", "451 4.7.28 unusually high rate of unsolicited mail")
    sink.script(f"r1@{DEST}", "451 4.7.28 unusually high rate of unsolicited mail")
    send(batch_sender, 4)
    row = WarmupDay.objects.get(day=day)
    assert (row.sent, row.delivered, row.deferred) == (4, 2, 2)
    day = date(2026, 12, 2)
    rows = warmup.day_rows([addresses[0].pk], DEST)
    assert rows[addresses[0].pk].step == 0 and "deferred 50.0%" in rows[addresses[0].pk].held
    day = date(2026, 12, 3)  # a day without sending: nothing to judge, the step stays
    assert warmup.day_rows([addresses[0].pk], DEST)[addresses[0].pk].step == 0


def test_a_pool_without_an_address_on_this_host_holds_its_mail(mx):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    elsewhere = EgressAddress.objects.create(
        address="127.0.0.5", helo="b.example.test", host="worker-b", account=sender.account
    )
    pool = service.pool_create(account=sender.account, name="far", addresses=[elsewhere], actor=SYSTEM)
    service.pool_set_default(pool=pool, account=sender.account, actor=SYSTEM)
    [message] = send(sender, 1)
    message.refresh_from_db()
    assert message.state == MessageState.DEFERRED and message.attempts == 0
    assert "no usable address on this host" in message.last_error and not mx.messages


def test_statistics_filter_by_address_pool_and_configuration_set(account_with_pool, client):
    from accounts.models import User
    from stats import dashboard

    _sink, trigger, batch_sender, config, _addresses = account_with_pool
    account = trigger.account
    send(batch_sender, 4, "b")
    send(trigger, 2, "t")
    pool = IpPool.objects.get(name="campaigns")
    today = account.today()

    def delivered(**given) -> int:
        messages = service.egress_filter(account, message_field="message_id", **given)
        return dashboard.report(account, today, today, messages=messages).totals["delivered"]

    assert delivered(pool_id=str(pool.api_id)) == 4
    assert delivered(config_set_id=str(config.api_id)) == 4
    assert delivered(dedicated_ip="127.0.0.4") == 2  # the shared address carried the trigger mail
    assert dashboard.report(account, today, today).totals["delivered"] == 6
    client.force_login(User.objects.get(email="owner@example.com"))
    page = client.get(f"/a/{account.public_id}/statistics/", {"ip_pool": str(pool.api_id)})
    assert page.status_code == 200 and "campaigns" in page.content.decode()


def test_a_pool_spread_over_two_hosts_sends_only_from_this_hosts_address(mx):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    here = add("127.0.0.2", "a.example.test", account=sender.account.public_id)
    there = EgressAddress.objects.create(
        address="127.0.0.6", helo="b.example.test", host="worker-b", account=sender.account
    )
    pool = service.pool_create(account=sender.account, name="both", addresses=[here, there], actor=SYSTEM)
    service.pool_set_default(pool=pool, account=sender.account, actor=SYSTEM)
    send(sender, 4)
    assert set(peers(mx)) == {"127.0.0.2"} and len(mx.messages) == 4


def test_staff_cannot_register_an_address_this_host_does_not_have(admin_client):
    from sending.models import EgressAddress as Address

    with override_settings(EGRESS_HOST="worker-a"):
        response = admin_client.post(
            "/admin/sending/egressaddress/add/",
            {"address": "192.0.2.77", "helo": "x.example.test", "host": "worker-a",
             "warmup": WarmupType.CUSTOMER},
        )  # fmt: skip
    assert response.status_code == 200 and "is not an address of this host" in response.content.decode()
    assert not Address.objects.exists()


def test_a_complaint_counts_on_the_day_and_address_its_mail_left_from(account_with_pool):
    from django.db import transaction

    from sending import events

    _sink, _trigger, batch_sender, _config, _addresses = account_with_pool
    [message] = send(batch_sender, 1)
    loaded = Message.objects.select_related("envelope__sender", "account").get(pk=message.pk)
    with transaction.atomic():
        events.record([events.Event("complained", loaded)])
    [row] = WarmupDay.objects.filter(sent=1)
    assert row.complained == 1 and row.esp == DEST
