"""Quotas hold under concurrency: parallel sends at the boundary never pass the daily quota."""

import threading

from django.db import close_old_connections, connection
from django.test import TransactionTestCase

from accounts.audit import SYSTEM
from sending.models import Message
from sending.services import messages as service
from sending.services.senders import sender_address_create
from tests.base import People
from tests.sending.helpers import verified_domain

THREADS = 8
QUOTA = 5


class QuotaRaceTests(People, TransactionTestCase):
    def setUp(self):
        self.create_people()
        self.account.daily_quota = QUOTA
        self.account.save()
        domain = verified_domain(self.account)
        self.sender = sender_address_create(
            account=self.account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
        )

    def test_exactly_the_remaining_quota_is_accepted(self):
        barrier = threading.Barrier(THREADS)
        outcomes: list[str] = []
        lock = threading.Lock()

        def send(n: int) -> None:
            try:
                barrier.wait(timeout=10)
                service.message_enqueue(
                    service.Mail(
                        account=self.account,
                        sender=self.sender,
                        to=f"user{n}@dest.test",
                        content=service.Content(subject="x", text_body="x"),
                    )
                )
                result = "accepted"
            except service.QuotaExhausted:
                result = "quota"
            except service.TemporaryFailure:
                result = "temporary"
            finally:
                close_old_connections()
                connection.close()
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=send, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertEqual(sorted(outcomes).count("accepted"), QUOTA, outcomes)
        self.assertEqual(outcomes.count("quota"), THREADS - QUOTA, outcomes)
        self.assertEqual(Message.objects.count(), QUOTA)
        self.assertEqual(service.quota_used(self.account, "day"), QUOTA)
