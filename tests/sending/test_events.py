"""The events core (sending.events): every kind of event changes the state its table allows, is stored,
counted in the per-day counters and offered to webhooks; a message in another state is left alone; hard
bounces suppress; accepting mail takes fewer statements than before the core (10 for one recipient)."""

from django.db import connection, transaction
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from accounts.audit import SYSTEM
from accounts.crypto import encrypt
from sending import events
from sending.events import KINDS, NEW, Event
from sending.models import Message, MessageEvent, MessageState, Suppression
from sending.services.messages import Content, Mail, message_enqueue
from sending.services.senders import sender_address_create
from stats import counters
from stats.models import COUNTER_FIELDS, DailyCounter, WebhookEndpoint, WebhookEvent
from stats.webhooks import events as webhooks
from tests.base import People
from tests.sending.helpers import verified_domain

# What one event of each kind adds to the day's counters (beyond the "accepted" its message was created
# with, which the walk subtracts).
EXPECTED = {
    "accepted": {"requests": 1, "sent": 1},
    "suppressed": {"invalid": 1, "sent": -1},
    "delivered": {"delivered": 1},
    "deferred": {"deferred": 1},
    "failed": {"failed": 1},
    "invalid": {"invalid": 1},
    "withheld": {"invalid": 1},
    "bounced": {"failed": 1},
    "hard_bounced": {"invalid": 1},
    "delayed": {"deferred": 1},
    "opened": {"opens": 1, "unique_opens": 1},
    "clicked": {"clicks": 1, "unique_clicks": 1},
    "unsubscribed": {"unsubscribes": 1},
    "complained": {"complaints": 1},
}


def totals() -> dict[str, int]:
    return counters.totals(DailyCounter.objects.all())


class EventsCoreTest(People, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()
        cls.sender = sender_address_create(
            account=cls.account, domain=verified_domain(cls.account), local_part="hi", send_type="trigger",
            actor=SYSTEM,
        )  # fmt: skip
        WebhookEndpoint.objects.create(
            account=cls.account, url="https://hooks.example.com/dm", secret_encrypted=encrypt("s"),
            event_types=list(webhooks.EVENT_LABELS),
        )  # fmt: skip

    def message(self, rcpt: str, state: str) -> Message:
        content = Content(subject="s", text_body="t")
        with self.captureOnCommitCallbacks(execute=False):  # no delivery: the test moves the state
            message_enqueue(Mail(account=self.account, sender=self.sender, to=rcpt, content=content))
        message = Message.objects.select_related("envelope__sender", "account").get(rcpt=rcpt)
        if state != MessageState.QUEUED:
            Message.objects.filter(pk=message.pk).update(state=state)
            message.state = state
        return message

    def test_every_kind_is_stored_counted_and_offered_to_webhooks(self):
        self.assertEqual(set(EXPECTED), set(KINDS), "a new kind needs its counters here")
        for name, kind in KINDS.items():
            with self.subTest(kind=name):
                before, hooks_before = totals(), WebhookEvent.objects.count()
                if kind.creates:  # acceptance: the enqueue service records it
                    rcpt = f"{name}@dest.test"
                    if name == "suppressed":
                        Suppression.objects.create(account=self.account, address=rcpt, reason="manual")
                    with self.captureOnCommitCallbacks(execute=False):
                        message_enqueue(
                            Mail(account=self.account, sender=self.sender, to=rcpt, content=Content("s", "t"))
                        )
                    message = Message.objects.get(rcpt=rcpt)
                    expected = dict(EXPECTED[name])
                    if name == "suppressed":  # its "accepted" too
                        expected = {"requests": 1, "invalid": 1}
                else:
                    start = kind.moves_from[0] if kind.moves_from else MessageState.DELIVERED
                    message = self.message(f"{name}@dest.test", start)
                    before = totals()
                    with transaction.atomic():
                        recorded = events.record(
                            [Event(name, message, {"text": "550 5.1.1 no such user"}, first=True)]
                        )
                    self.assertEqual(len(recorded), 1)
                    expected = EXPECTED[name]
                message.refresh_from_db()
                if kind.to:
                    self.assertEqual(message.state, kind.to)
                self.assertTrue(message.events.filter(type=kind.stored).exists())
                after = totals()
                changed = {f: after[f] - before[f] for f in COUNTER_FIELDS if after[f] != before[f]}
                self.assertEqual(changed, expected)
                offered = WebhookEvent.objects.count() - hooks_before
                self.assertEqual(offered, 1 if name in webhooks.CLOUD_TYPES else 0)
                if kind.suppresses:
                    self.assertTrue(
                        Suppression.objects.filter(
                            account=self.account, address=message.rcpt, scope=""
                        ).exists()
                    )
        # Every kind without a webhook type is one on purpose: acceptance is answered by the API itself.
        self.assertEqual(set(KINDS) - set(webhooks.CLOUD_TYPES), {"accepted", "suppressed"})
        # Counted as they happened, and equal to a recount from the stored events.
        live = totals()
        counters.rebuild(self.account.pk)
        self.assertEqual(totals(), live)

    def test_a_message_not_in_a_state_the_kind_moves_from_is_left_alone(self):
        message = self.message("late@dest.test", MessageState.DELIVERED)
        before = totals()
        with transaction.atomic():
            self.assertEqual(events.record([Event("failed", message, {"text": "timeout"})]), [])
        message.refresh_from_db()
        self.assertEqual(message.state, MessageState.DELIVERED)
        self.assertFalse(message.events.filter(type="failed").exists())
        self.assertEqual(totals(), before)

    def test_the_callers_condition_guards_a_batch_and_only_matching_messages_move(self):
        ours = [self.message(f"m{n}@dest.test", MessageState.SENDING) for n in range(3)]
        Message.objects.filter(pk__in=[m.pk for m in ours[:2]]).update(lease_owner="mine")
        from django.db.models import Q

        with transaction.atomic():
            recorded = events.record(
                [Event("delivered", m) for m in ours],
                where=Q(lease_owner="mine"),
                changes={"lease_owner": ""},
            )
        self.assertEqual({e.message.pk for e in recorded}, {m.pk for m in ours[:2]})
        states = dict(Message.objects.filter(pk__in=[m.pk for m in ours]).values_list("rcpt", "state"))
        self.assertEqual(
            states, {"m0@dest.test": "delivered", "m1@dest.test": "delivered", "m2@dest.test": "sending"}
        )

    def test_kinds_are_checked(self):
        message = self.message("x@dest.test", MessageState.SENDING)
        with self.assertRaises(ValueError):
            events.listen(lambda batch, at: None, kinds=["exploded"])
        with transaction.atomic(), self.assertRaises(ValueError):  # two state changes in one call
            events.record([Event("delivered", message), Event("failed", message)])
        unsaved = Message(account=self.account, rcpt="y@dest.test", state=MessageState.QUEUED)
        with transaction.atomic(), self.assertRaises(ValueError):  # created kinds need their message saved
            events.record([Event("accepted", unsaved)])
        self.assertEqual(KINDS["accepted"].moves_from, (NEW,))

    def test_accepting_one_recipient_takes_nine_statements(self):
        content = Content(subject="s", text_body="t")
        mail = Mail(account=self.account, sender=self.sender.address, to="one@dest.test", content=content)
        with CaptureQueriesContext(connection) as queries, self.captureOnCommitCallbacks(execute=False):
            message_enqueue(mail)
        # sender, suppression lookup, savepoint, quota (both periods), envelope, message, event, counters,
        # release: one fewer than before the events core (the quota took one statement per period).
        self.assertEqual(len(queries.captured_queries), 9, [q["sql"][:80] for q in queries.captured_queries])
        self.assertEqual(MessageEvent.objects.filter(message__rcpt="one@dest.test").count(), 1)
