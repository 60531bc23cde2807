"""Queue control with a worker running, over loopback: `manage.py queue` and the Queue page hold, resume,
bounce and retry parts of the queue by provider, domain, egress address, account and batch send; held
mail is not tried and spends no attempt; every action is confirmed and audited."""

import io
import json
import threading
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry, Membership
from accounts.roles import Role
from sending.delivery import worker
from sending.models import DeliveryAttempt, Message, MessageEvent, MessageState, Suspension
from tests.base import PASSWORD, make_user
from tests.sending.helpers import send, smtp_sender

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def running_worker():
    """A delivery worker looping in a thread, as `manage.py qcluster` would run it."""
    stop = threading.Event()

    def loop():
        try:
            while not stop.is_set():
                worker.deliver_due(max_seconds=0.5)
                stop.wait(0.1)
        finally:
            connection.close()

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def until(condition, seconds: float = 20) -> None:
    deadline = timezone.now() + timedelta(seconds=seconds)
    while not condition():
        assert timezone.now() < deadline, "timed out"
        threading.Event().wait(0.1)


def queue(*args: str) -> str:
    out = io.StringIO()
    call_command("queue", *args, stdout=out)
    return out.getvalue()


def test_the_command_holds_resumes_and_reports_a_provider(mx):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    send(sender, ["first@gmail.com"])  # delivered: Gmail is known for gmail.com from now on
    with running_worker():
        out = queue(
            "suspend", "--provider", "gmail", "--for", "2h", "--reason", "warming 203.0.113.5", "--yes"
        )
        assert "held provider=gmail until" in out
        held = send(sender, ["a@gmail.com", "b@gmail.com"])
        [other] = send(sender, ["c@elsewhere.example"])
        until(lambda: Message.objects.get(pk=other.pk).state == MessageState.DELIVERED)
        until(lambda: all(Message.objects.get(pk=m.pk).last_error.startswith("suspended") for m in held))
        for message in Message.objects.filter(pk__in=[m.pk for m in held]):
            assert message.state == MessageState.DEFERRED and message.attempts == 0
            assert "warming 203.0.113.5" in message.last_error and "manage.py queue" in message.last_error
        assert not DeliveryAttempt.objects.filter(message__in=held, code__isnull=False).exists()

        status = json.loads(queue("status", "--json"))
        [gmail] = [row for row in status["rows"] if row["key"] == "gmail"]
        assert gmail["suspended"] == 2 and gmail["label"].startswith("Gmail")
        [hold] = status["holds"]
        assert hold["keys"] == {"provider": "gmail"} and hold["why"] == "warming 203.0.113.5"
        assert "held" in queue("status")  # the table's column and the hold

        out = queue("resume", "--provider", "gmail", "--yes")
        assert "ended 1 holds" in out and "2 messages due now" in out
        until(
            lambda: (
                Message.objects.filter(pk__in=[m.pk for m in held], state=MessageState.DELIVERED).count() == 2
            )
        )
    assert set(Message.objects.values_list("attempts", flat=True)) == {1}
    actions = list(AuditEntry.objects.filter(action__startswith="queue.").values_list("action", flat=True))
    assert sorted(actions) == ["queue.resume", "queue.suspend"]


def test_bounce_and_retry_by_domain_and_batch_with_a_worker_running(mx):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    mx.script("a@elsewhere.example", "451 4.3.0 Mailbox busy, try again")
    mx.script("b@elsewhere.example", "451 4.3.0 Mailbox busy, try again")
    deferred = send(sender, ["a@elsewhere.example", "b@elsewhere.example"])
    assert {m.state for m in Message.objects.filter(pk__in=[m.pk for m in deferred])} == {
        MessageState.DEFERRED
    }
    with running_worker():
        out = queue("bounce", "--domain", "elsewhere.example", "--reason", "wrong list", "--yes")
        assert "bounced 2 messages of domain=elsewhere.example" in out
    for message in Message.objects.filter(pk__in=[m.pk for m in deferred]):
        assert message.state == MessageState.FAILED and message.finished_at is not None
        assert message.last_error == "bounced by operator: wrong list"
        event = MessageEvent.objects.filter(message=message).order_by("-at", "-pk").first()
        assert event.type == "failed" and event.detail["text"] == "bounced by operator: wrong list"

    mx.script("c@elsewhere.example", "451 4.3.0 Mailbox busy, try again", "250 OK")
    [later] = send(sender, ["c@elsewhere.example"])
    later.refresh_from_db()
    assert later.state == MessageState.DEFERRED and later.next_attempt_at > timezone.now()
    with running_worker():
        assert "1 deferred messages of domain=elsewhere.example due now" in queue(
            "retry", "--domain", "elsewhere.example", "--yes"
        )
        until(lambda: Message.objects.get(pk=later.pk).state == MessageState.DELIVERED)
    assert AuditEntry.objects.filter(action="queue.bounce", details__messages=2).exists()


def test_the_command_refuses_what_it_cannot_do(mx):
    with pytest.raises(CommandError, match="Name what it applies to"):
        queue("bounce", "--yes")
    with pytest.raises(CommandError, match="duration"):
        queue("suspend", "--provider", "gmail", "--for", "soon", "--yes")
    with pytest.raises(CommandError, match="No account"):
        queue("suspend", "--account", "nobody", "--for", "1h", "--yes")
    with pytest.raises(CommandError, match="--yes"):  # no terminal to ask: nothing is done
        queue("suspend", "--provider", "gmail", "--for", "1h")
    assert (
        not Suspension.objects.exists()
        and not AuditEntry.objects.filter(action__startswith="queue.").exists()
    )


def test_an_account_owner_steers_its_part_from_the_queue_page(mx, client):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    account = sender.account
    owner = Membership.objects.get(account=account).user
    owner.set_password(PASSWORD)
    owner.save()
    other = smtp_sender("someone@example.org", "smtp-Password-2026", domain_name="mail.example.org")
    client.login(email="owner@example.com", password=PASSWORD)
    page = reverse("sending:queue", args=[account.public_id])
    act = reverse("sending:queue_act", args=[account.public_id])

    response = client.get(page)
    assert response.status_code == 200 and b'id="queue-empty"' in response.content

    query = "?action=suspend&domain=elsewhere.example&duration=1h&reason=checking+a+complaint"
    response = client.get(act + query)  # the confirmation first: nothing done yet
    assert response.status_code == 200 and b"Hold the mail" in response.content
    assert not Suspension.objects.exists()
    response = client.post(act + query)
    assert response.status_code == 302
    [hold] = Suspension.objects.all()
    assert (hold.account, hold.rcpt_domain, hold.origin) == (account, "elsewhere.example", "operator")

    with running_worker():
        mine = send(sender, ["a@elsewhere.example"])
        theirs = send(other, ["b@elsewhere.example"])  # another account's mail is not held
        until(lambda: Message.objects.get(pk=theirs[0].pk).state == MessageState.DELIVERED)
        until(lambda: Message.objects.get(pk=mine[0].pk).last_error.startswith("suspended"))
        response = client.get(page + "?by=domain")
        assert b"elsewhere.example" in response.content and b"checking a complaint" in response.content
        assert b"b@elsewhere.example" not in response.content
        client.post(act + "?action=resume&domain=elsewhere.example")
        until(lambda: Message.objects.get(pk=mine[0].pk).state == MessageState.DELIVERED)
    assert Message.objects.get(pk=mine[0].pk).attempts == 1

    # An account cannot reach another's batch send, nor lift a receiver's suspension.
    response = client.get(act + "?action=bounce&batch=" + "B" * 12)
    assert response.status_code == 302 and not AuditEntry.objects.filter(action="queue.bounce").exists()
    Suspension.objects.create(provider="gmail", rule="gmail-unsolicited-rate", reply="421 4.7.28",
                              until=timezone.now() + timedelta(hours=1))  # fmt: skip
    response = client.get(page)
    assert b"gmail-unsolicited-rate" in response.content  # shown: it holds this account's Gmail mail too
    assert b"receivers=1" not in response.content
    client.post(act + "?action=resume&provider=gmail&receivers=1")
    assert Suspension.objects.filter(origin="reply", until__gt=timezone.now()).exists()


def test_who_may_see_the_queue(mx, client):
    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    viewer = make_user("viewer@example.com")
    Membership.objects.create(account=sender.account, user=viewer, role=Role.VIEWER)
    client.login(email="viewer@example.com", password=PASSWORD)
    assert client.get(reverse("sending:queue", args=[sender.account.public_id])).status_code == 403
    assert client.get(reverse("sending:staff_queue")).status_code == 403
    viewer.is_staff = True
    viewer.save()
    with mock.patch("sending.services.messages.kick_delivery"):
        send(sender, ["a@gmail.com"])
    response = client.get(reverse("sending:staff_queue") + "?by=account")
    assert response.status_code == 200 and sender.account.public_id.encode() in response.content
    response = client.post(
        reverse("sending:staff_queue_act") + f"?action=bounce&account={sender.account.public_id}"
    )
    assert response.status_code == 302
    assert Message.objects.get().state == MessageState.FAILED
    entry = AuditEntry.objects.get(action="queue.bounce")
    assert entry.account == sender.account and entry.actor_user == viewer


def test_metrics_and_the_dashboard_show_the_queue_by_provider(mx, client):
    from tests.sending.test_shaping import THROTTLED

    sender = smtp_sender("owner@example.com", "smtp-Password-2026")
    mx.script("a@workspace.example", THROTTLED)
    send(sender, ["a@workspace.example", "b@workspace.example", "c@workspace.example"])
    body = client.get("/metrics").content.decode()
    assert 'directmail_queue_provider_messages{provider="gmail",state="held"} 2.0' in body
    assert 'directmail_queue_provider_messages{provider="gmail",state="deferred"} 1.0' in body
    assert 'directmail_suspensions_active{action="suspend",origin="reply"} 1.0' in body
    assert 'directmail_replies_total{class="reputation"}' in body

    owner = Membership.objects.get(account=sender.account).user
    owner.set_password(PASSWORD)
    owner.save()
    client.login(email="owner@example.com", password=PASSWORD)
    response = client.get(reverse("stats:dashboard", args=[sender.account.public_id]))
    table = response.content.decode().split('id="table-deferrals"')[1].split("</table>")[0]
    assert "Gmail / Google Workspace" in table and '<td class="text-end">3</td>' in table
