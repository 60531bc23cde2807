"""directmail.db.rows builds the same instances the ORM does, on SQLite and on PostgreSQL."""

from django.db.models import Model
from django.test import TestCase
from django.utils import timezone

from accounts.access import access_key_create
from accounts.audit import SYSTEM
from accounts.models import AccessKey
from directmail.db import rows
from sending.models import Envelope, Message, SenderAddress
from tests.base import People
from tests.sending.helpers import verified_domain


def field_values(instance: Model) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


class RowsTest(People, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()
        cls.domain = verified_domain(cls.account)
        cls.sender = SenderAddress.objects.create(
            account=cls.account, domain=cls.domain, address=f"noreply@{cls.domain.name}"
        )

    def test_select_one_matches_the_orm_with_the_related_row_cached(self):
        key, _secret = access_key_create(account=self.account, actor=SYSTEM)
        got = rows.select_one(AccessKey, "t0.key_id = %s", [key.key_id], related=("account",))
        expected = AccessKey.objects.select_related("account").get(pk=key.pk)
        self.assertEqual(field_values(got), field_values(expected))
        self.assertFalse(got._state.adding)
        with self.assertNumQueries(0):
            self.assertEqual(field_values(got.account), field_values(expected.account))
        sender = rows.select_one(SenderAddress, "t0.address = %s", [self.sender.address], related=("domain",))
        self.assertEqual(field_values(sender.domain), field_values(self.domain))

    def test_select_one_without_a_match_is_none(self):
        self.assertIsNone(rows.select_one(AccessKey, "t0.key_id = %s", ["LTAI-nobody"]))

    def test_insert_sets_pks_and_stores_what_the_orm_would(self):
        envelopes = [
            Envelope(
                env_id=str(10**17 + n),
                account=self.account,
                sender=self.sender,
                subject=f"Hello {n}",
                headers={"X-User-Order": "A-1"},
                raw_message=b"Subject: raw\r\n\r\nbody" if n else None,
                click_trace=bool(n),
            )
            for n in range(2)
        ]
        rows.insert(envelopes)
        messages = [
            Message(
                envelope=envelope,
                account=self.account,
                rcpt=f"user{number}@example.org",
                rcpt_domain="example.org",
                message_id=f"m{number}@{self.domain.name}",
                variables={"Name": "李雷"},
                give_up_at=timezone.now(),
            )
            for number, envelope in enumerate(envelopes * 150)  # more rows than one statement holds
        ]
        rows.insert(messages)
        for envelope in envelopes:
            stored = field_values(Envelope.objects.get(pk=envelope.pk))
            stored["raw_message"] = bytes(stored["raw_message"]) if stored["raw_message"] else None
            self.assertEqual(stored, field_values(envelope))
        self.assertEqual(sorted(Message.objects.values_list("pk", flat=True)), sorted(m.pk for m in messages))
        self.assertEqual(Message.objects.get(pk=messages[-1].pk).variables, {"Name": "李雷"})
        self.assertEqual(Message.objects.get(pk=messages[-1].pk).envelope_id, envelopes[1].pk)
