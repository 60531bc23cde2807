"""At-least-once delivery: a worker SIGKILLed after the receiving server stored the message, but before the
result was recorded, leaves one final state in the database and at most one duplicate at the receiver."""

import signal
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import TransactionTestCase, override_settings
from django.utils import timezone

from accounts.audit import SYSTEM
from sending.delivery import worker
from sending.models import Message, MessageState
from sending.services import messages as service
from sending.services.senders import sender_address_create
from tests.base import People
from tests.faults import TcpSwitch
from tests.processes import shell_child, through
from tests.sending.helpers import verified_domain
from tests.smtpsink import SmtpSink


class _WorkerTestCase(People, TransactionTestCase):
    """A verified sender and a recording sink; the tests' own worker is the only one to deliver."""

    def setUp(self):
        self.create_people()
        domain = verified_domain(self.account)
        self.sender = sender_address_create(
            account=self.account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
        )
        self.sink = SmtpSink().__enter__()
        self.addCleanup(self.sink.__exit__, None, None, None)

    def hold_kick_slots(self) -> None:
        """Delivery tasks are "already waiting" (the queue runs tasks inline in tests): the worker the
        test starts is the only one to pick messages up."""
        for slot in range(settings.Q_CLUSTER["workers"]):
            cache.set(f"delivery:kick:{slot}", 1, timeout=300)
            self.addCleanup(cache.delete, f"delivery:kick:{slot}")  # the cache table outlives the test


class WorkerCrashTests(_WorkerTestCase):
    def test_sigkill_between_250_and_recording(self):
        self.hold_kick_slots()
        service.message_enqueue(
            service.Mail(
                account=self.account,
                sender=self.sender,
                to="bob@dest.test",
                content=service.Content(subject="Hi", text_body="x"),
            )
        )
        relay = f"smtp://127.0.0.1:{self.sink.port}"
        self.sink.handler.reply_delay = 30  # the sink stores the message, then takes its time to say 250
        process = shell_child(
            "from sending.delivery.worker import deliver_due; deliver_due()",
            DELIVERY_MODE="relay",
            SMTP_RELAY_URL=relay,
            DELIVERY_LEASE="600",
        )
        try:
            self.assertTrue(self.sink.handler.stored.wait(timeout=15), "the worker never reached the sink")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        message = Message.objects.get()
        self.assertEqual(message.state, MessageState.SENDING)  # the result was never recorded
        self.assertEqual(len(self.sink.messages), 1)

        # Later the lease runs out, and a healthy worker delivers the message again: the one duplicate.
        self.sink.handler.reply_delay = 0
        Message.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
        with override_settings(DELIVERY_MODE="relay", SMTP_RELAY_URL=relay):
            self.assertEqual(worker.deliver_due(max_seconds=20), {"delivered": 1})
        message.refresh_from_db()
        self.assertEqual(
            (message.state, message.attempts, message.lost_leases), (MessageState.DELIVERED, 2, 1)
        )
        self.assertEqual(message.delivery_attempts.count(), 1)
        ids = [m.data.split(b"Message-ID:", 1)[1].split(b">", 1)[0] for m in self.sink.messages]
        self.assertEqual(len(ids), 2)
        self.assertEqual(len(set(ids)), 1)  # the same message twice, never two different ones
        self.assertEqual(worker.deliver_due(max_seconds=5), {})  # and nothing more

    def test_a_dead_workers_session_stops_counting_within_seconds(self):
        """One session to a domain allowed, held by a worker SIGKILLed mid-send: the other messages of that
        domain go out on a healthy worker as soon as the dead lease is DELIVERY_SESSION_ALIVE seconds
        without renewal, not after the whole lease; the dead worker's message waits for its lease (no
        second copy while a slow worker might still be sending it)."""
        self.hold_kick_slots()
        for n in range(3):
            service.message_enqueue(
                service.Mail(
                    account=self.account,
                    sender=self.sender,
                    to=f"u{n}@dest.test",
                    content=service.Content(subject="Hi", text_body="x"),
                )
            )
        relay = f"smtp://127.0.0.1:{self.sink.port}"
        limits = '{"*": {"connections": 1, "per_second": 50}}'
        self.sink.handler.reply_delay = 60
        process = shell_child(
            "from sending.delivery.worker import deliver_due; deliver_due()",
            DELIVERY_MODE="relay", SMTP_RELAY_URL=relay, DELIVERY_LEASE="600", DELIVERY_BATCH="1",
            DELIVERY_DOMAIN_LIMITS=limits, DELIVERY_SESSION_ALIVE="5",
        )  # fmt: skip
        try:
            self.assertTrue(self.sink.handler.stored.wait(timeout=15), "the worker never reached the sink")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        self.sink.handler.reply_delay = 0
        killed_at = time.monotonic()
        delivered = 0
        with override_settings(
            DELIVERY_MODE="relay", SMTP_RELAY_URL=relay, DELIVERY_SESSION_ALIVE=5,
            DELIVERY_DOMAIN_LIMITS={"*": {"connections": 1, "per_second": 50}},
        ):  # fmt: skip
            while delivered < 2 and time.monotonic() - killed_at < 30:
                delivered += worker.deliver_due(max_seconds=5).get("delivered", 0)
                time.sleep(0.5)
        self.assertEqual(delivered, 2, "the dead worker's session blocked the domain")
        self.assertLess(time.monotonic() - killed_at, 30)
        self.assertEqual(Message.objects.filter(state=MessageState.SENDING).count(), 1)  # waits for its lease


@pytest.mark.skipif(connection.vendor != "postgresql", reason="stops PostgreSQL (the test runs on it)")
class ResultWriteOutageTests(_WorkerTestCase):
    """The database goes away between the receiver's 250 and the write of that result: the worker holds
    the result and writes it when the database is back, instead of the message being sent again."""

    def test_a_result_that_could_not_be_written_is_written_later_not_sent_again(self):
        self.hold_kick_slots()
        service.message_enqueue(
            service.Mail(
                account=self.account,
                sender=self.sender,
                to="bob@dest.test",
                content=service.Content(subject="Hi", text_body="x"),
            )
        )
        self.sink.handler.reply_delay = (
            3  # the message is stored at the sink; 250 comes after the outage began
        )
        with TcpSwitch(connection.settings_dict["PORT"] or 5432) as pg:
            process = shell_child(
                "from sending.delivery.worker import deliver_due; deliver_due()",
                DATABASE_URL=through(pg.port), DELIVERY_MODE="relay",
                SMTP_RELAY_URL=f"smtp://127.0.0.1:{self.sink.port}", DELIVERY_LEASE="600",
            )  # fmt: skip
            try:
                self.assertTrue(
                    self.sink.handler.stored.wait(timeout=15), "the worker never reached the sink"
                )
                pg.down()
                time.sleep(8)  # the 250 arrives, and the write of it fails for a while
                pg.up()
                back = time.monotonic()
                process.wait(timeout=60)
            finally:
                if process.poll() is None:
                    process.kill()
        message = Message.objects.get()
        self.assertEqual((message.state, message.lost_leases), (MessageState.DELIVERED, 0))
        self.assertLess(time.monotonic() - back, 60)
        self.assertEqual(len(self.sink.messages), 1)
        self.assertEqual(message.delivery_attempts.count(), 1)
