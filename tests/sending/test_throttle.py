"""Throttling: sessions per destination domain across workers, pacing per session, messages per account."""

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.test import TestCase, override_settings
from django.utils import timezone

from accounts.audit import SYSTEM
from sending.delivery import throttle, worker
from sending.models import Message, MessageState
from sending.services import messages as service
from sending.services.senders import sender_address_create
from tests.base import AccountTestCase
from tests.sending.helpers import verified_domain


class FakeClock:
    def __init__(self, start: float = 1000.0):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


class PacingTests(TestCase):
    def test_sends_are_spaced_at_the_domain_pace(self):
        clock = FakeClock()
        pacer = throttle.Pacer(4, clock=clock, sleep=clock.sleep)
        for _ in range(3):
            pacer.wait()
        self.assertEqual(clock.slept, [0.25, 0.25])

    def test_a_slow_sender_is_not_held_back(self):
        clock = FakeClock()
        pacer = throttle.Pacer(4, clock=clock, sleep=clock.sleep)
        pacer.wait()
        clock.now += 1
        pacer.wait()
        self.assertEqual(clock.slept, [])

    @override_settings(DELIVERY_ACCOUNT_PER_SECOND=2)
    def test_an_account_over_its_rate_waits_for_the_next_second(self):
        cache.clear()
        clock = FakeClock(5000.5)
        for _ in range(3):
            throttle.account_slot(42, sleep=clock.sleep, clock=clock)
        self.assertEqual(clock.slept, [0.5])
        cache.clear()

    @override_settings(DELIVERY_ACCOUNT_PER_SECOND=15)
    def test_slots_are_reserved_in_chunks_but_never_past_the_limit(self):
        cache.clear()
        clock = FakeClock(7000.0)
        for _ in range(20):
            throttle.account_slot(43, sleep=clock.sleep, clock=clock)
        self.assertEqual(clock.slept, [1.0])  # 15 in the first second, the rest in the next
        cache.clear()

    @override_settings(
        DELIVERY_DOMAIN_LIMITS={"*": {"connections": 2, "per_second": 10}, "big.test": {"connections": 9}}
    )
    def test_limits_per_domain_fall_back_to_the_default(self):
        self.assertEqual(throttle.domain_limits("BIG.test"), {"connections": 9, "per_second": 10})
        self.assertEqual(throttle.domain_limits("small.test"), {"connections": 2, "per_second": 10})


@override_settings(DELIVERY_DOMAIN_LIMITS={"*": {"connections": 1, "per_second": 100}})
class SessionLimitTests(AccountTestCase):
    def test_a_domain_at_its_session_limit_waits_and_others_go_first(self):
        domain = verified_domain(self.account)
        sender = sender_address_create(
            account=self.account, domain=domain, local_part="n", send_type="trigger", actor=SYSTEM
        )
        for to in ("a@busy.test", "b@busy.test", "c@free.test"):
            service.message_enqueue(
                service.Mail(
                    account=self.account,
                    sender=sender,
                    to=to,
                    content=service.Content(subject="s", text_body="t"),
                )
            )
        # Another worker holds a live session to busy.test (it renewed its lease just now).
        Message.objects.filter(rcpt="a@busy.test").update(
            state=MessageState.SENDING,
            lease_owner="other",
            lease_until=timezone.now() + timedelta(seconds=settings.DELIVERY_LEASE),
        )
        _token, claimed = worker.claim()
        self.assertEqual([m.rcpt for m in claimed], ["c@free.test"])
        _token, claimed = worker.claim()
        self.assertEqual(claimed, [])  # busy.test is still at its limit: b@ waits, it does not fail
        self.assertEqual(Message.objects.get(rcpt="b@busy.test").state, MessageState.QUEUED)
