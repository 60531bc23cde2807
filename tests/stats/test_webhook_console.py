"""The webhook pages as owners and admins use them, against a receiver on loopback: add an endpoint and see
its secret once, refusals of internal and plain-http targets, test events, the event log with payloads and
answers, replay of one event and of the failed ones in a range, disable/enable, delete; and the Redis
stream endpoints."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from accounts.crypto import decrypt
from accounts.models import AuditEntry
from stats import webhooks
from stats.models import WebhookEndpoint, WebhookEvent
from tests.base import PASSWORD, AccountTestCase
from tests.directmail.test_redis_broker import REDIS_URL, redis_is_up
from tests.stats.receiver import Receiver


def form(url="", **fields) -> dict:
    data = {"kind": "webhook", "url": url, "stream": "events", "event_types": ["delivered", "failed"]}
    data.update(fields)
    return data


@override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True)
class WebhookConsoleTest(AccountTestCase):
    def setUp(self):
        self.receiver = Receiver().__enter__()
        self.addCleanup(self.receiver.__exit__, None, None, None)
        self.client.login(username="admin@example.com", password=PASSWORD)

    def create(self, **fields) -> tuple[WebhookEndpoint, str]:
        response = self.client.post(self.url("stats:webhook_create"), form(self.receiver.url, **fields))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Cache-Control"], "no-store")
        endpoint = WebhookEndpoint.objects.get(url=self.receiver.url)
        return endpoint, response.context["secret"]

    def event(self, endpoint, status="failed", age=timedelta(hours=30)) -> WebhookEvent:
        at = timezone.now() - age
        count = WebhookEvent.objects.count()
        return WebhookEvent.objects.create(
            public_id=f"evt{count:029d}",
            account=self.account,
            endpoint=endpoint,
            type="dm:Deliver:Succeed",
            payload={"id": f"evt{count:029d}", "data": {"rcpt": "ann@example.org"}},
            status=status,
            attempts=6,
            created_at=at,
            retry_from=at,
            finished_at=at + timedelta(hours=24) if status != "pending" else None,
        )

    def test_an_endpoint_is_added_and_its_secret_shown_once(self):
        endpoint, secret = self.create(sender_address="", tag_name="")
        self.assertTrue(secret.startswith("whsec_"))
        self.assertEqual(decrypt(endpoint.secret_encrypted), secret)
        self.assertEqual(endpoint.event_types, ["delivered", "failed"])
        detail = self.client.get(self.url("stats:webhook_detail", endpoint.public_id))
        self.assertContains(detail, self.receiver.url)
        self.assertNotContains(detail, secret)
        self.assertContains(detail, "hmac.compare_digest")  # the verification snippet
        listing = self.client.get(self.url("stats:webhooks"))
        self.assertContains(listing, endpoint.public_id)
        self.assertTrue(
            AuditEntry.objects.filter(action="webhook.create", target_id=endpoint.public_id).exists()
        )

    def test_an_empty_list_says_what_webhooks_are_for(self):
        self.assertContains(self.client.get(self.url("stats:webhooks")), "No endpoints yet")

    @override_settings(WEBHOOK_ALLOW_PRIVATE=False)
    def test_internal_targets_are_refused_when_saving_and_nothing_is_created(self):
        for url in (
            self.receiver.url,
            "http://10.0.0.5/hooks",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
        ):
            with self.subTest(url=url):
                response = self.client.post(self.url("stats:webhook_create"), form(url))
                self.assertEqual(response.status_code, 400)
                self.assertTrue(response.context["form"].errors["url"])
        self.assertFalse(WebhookEndpoint.objects.exists())

    @override_settings(WEBHOOK_ALLOW_HTTP=False, DEBUG=False)
    def test_plain_http_is_refused_in_production(self):
        response = self.client.post(self.url("stats:webhook_create"), form(self.receiver.url))
        self.assertContains(response, "https://", status_code=400)
        self.assertFalse(WebhookEndpoint.objects.exists())

    def test_a_test_event_arrives_signed_with_the_secret_shown(self):
        endpoint, secret = self.create()
        response = self.client.post(self.url("stats:webhook_test", endpoint.public_id), follow=True)
        self.assertContains(response, "Test event delivered")
        [(headers, body)] = self.receiver.received
        self.assertTrue(webhooks.verify(secret, headers["X-DirectMail-Signature"], body))
        payload = json.loads(body)
        self.assertEqual((payload["type"], payload["data"]["test"]), ("dm:Deliver:Succeed", True))
        event = WebhookEvent.objects.get()
        self.assertEqual((event.status, event.is_test, event.public_id), ("delivered", True, payload["id"]))
        self.assertContains(response, "test")  # listed among the endpoint's events

    def test_greylist_results_can_be_chosen_and_tested(self):
        endpoint, secret = self.create(event_types=["graylist"])
        self.assertEqual(endpoint.event_types, ["graylist"])
        detail = self.client.get(self.url("stats:webhook_detail", endpoint.public_id))
        self.assertContains(detail, "Greylist check results")
        response = self.client.post(self.url("stats:webhook_test", endpoint.public_id), follow=True)
        self.assertContains(response, "Test event delivered")
        [(headers, body)] = self.receiver.received
        self.assertTrue(webhooks.verify(secret, headers["X-DirectMail-Signature"], body))
        payload = json.loads(body)
        self.assertEqual(payload["type"], "dm:Validator:GrayListResult")
        self.assertEqual(
            (payload["data"]["email"], payload["data"]["status"]), ("recipient@example.com", "VALID")
        )
        self.assertContains(response, "recipient@example.com")  # the event log names the address

    def test_a_failed_test_event_says_why_and_is_not_retried(self):
        endpoint, _secret = self.create()
        self.receiver.replies = [500]
        response = self.client.post(self.url("stats:webhook_test", endpoint.public_id), follow=True)
        self.assertContains(response, "not delivered: 500")
        event = WebhookEvent.objects.get()
        self.assertEqual((event.status, event.attempts), ("failed", 1))
        endpoint.refresh_from_db()
        self.assertIsNone(endpoint.failing_since)  # tests do not count towards disabling

    @override_settings(WEBHOOK_ALLOW_PRIVATE=False)
    def test_a_test_event_to_a_target_that_became_internal_is_refused_before_connecting(self):
        endpoint = WebhookEndpoint.objects.create(
            account=self.account, url=self.receiver.url, event_types=["delivered"], secret_encrypted="x"
        )
        response = self.client.post(self.url("stats:webhook_test", endpoint.public_id), follow=True)
        self.assertContains(response, "internal address")
        self.assertEqual(self.receiver.received, [])

    def test_the_event_page_shows_the_payload_and_the_answers_cut_short(self):
        endpoint, _secret = self.create()
        self.receiver.replies = [502]
        self.receiver.answer_with("upstream down " + "x" * 1000)
        self.client.post(self.url("stats:webhook_test", endpoint.public_id))
        event = WebhookEvent.objects.get()
        page = self.client.get(self.url("stats:webhook_event", endpoint.public_id, event.public_id))
        self.assertContains(page, "upstream down")
        self.assertContains(page, "502")
        self.assertContains(page, "(cut short)")
        self.assertContains(page, "&quot;specversion&quot;: &quot;1.0&quot;")

    def test_one_event_is_replayed_with_its_id(self):
        endpoint, _secret = self.create()
        event = self.event(endpoint, status="delivered")
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                self.url("stats:webhook_event_replay", endpoint.public_id, event.public_id), follow=True
            )
        self.assertContains(response, "being sent again")
        [(headers, _body)] = self.receiver.received
        self.assertEqual(headers["X-DirectMail-Event-Id"], event.public_id)
        event.refresh_from_db()
        self.assertEqual((event.status, event.attempts), ("delivered", 7))

    def test_the_failed_events_of_a_range_are_replayed(self):
        endpoint, _secret = self.create()
        old = self.event(endpoint, age=timedelta(days=3))
        inside = [
            self.event(endpoint, age=timedelta(hours=30)),
            self.event(endpoint, age=timedelta(hours=26)),
        ]
        delivered = self.event(endpoint, status="delivered", age=timedelta(hours=28))
        now = timezone.localtime()
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                self.url("stats:webhook_replay_failed", endpoint.public_id),
                {
                    "start": (now - timedelta(hours=48)).strftime("%Y-%m-%dT%H:%M"),
                    "end": now.strftime("%Y-%m-%dT%H:%M"),
                },
                follow=True,
            )
        self.assertContains(response, "2 failed events are being sent again")
        ids = {headers["X-DirectMail-Event-Id"] for headers, _body in self.receiver.received}
        self.assertEqual(ids, {e.public_id for e in inside})
        old.refresh_from_db()
        delivered.refresh_from_db()
        self.assertEqual((old.status, delivered.attempts), ("failed", 6))

    def test_a_backwards_range_replays_nothing(self):
        endpoint, _secret = self.create()
        self.event(endpoint)
        now = timezone.localtime()
        response = self.client.post(
            self.url("stats:webhook_replay_failed", endpoint.public_id),
            {
                "start": now.strftime("%Y-%m-%dT%H:%M"),
                "end": (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            },
            follow=True,
        )
        self.assertContains(response, "Nothing replayed")
        self.assertEqual(WebhookEvent.objects.get().status, "failed")

    def test_finished_events_are_forgotten_after_the_retention_period(self):
        endpoint, _secret = self.create()
        old = self.event(endpoint, age=timedelta(days=31))
        waiting = self.event(endpoint, status="pending", age=timedelta(days=31))
        recent = self.event(endpoint, age=timedelta(days=29))
        self.assertEqual(webhooks.purge(), 1)
        remaining = set(WebhookEvent.objects.values_list("pk", flat=True))
        self.assertEqual(remaining, {waiting.pk, recent.pk})
        self.assertNotIn(old.pk, remaining)

    def test_a_disabled_endpoint_keeps_its_events_until_enabled(self):
        endpoint, _secret = self.create()
        self.client.post(self.url("stats:webhook_toggle", endpoint.public_id))
        event = self.event(endpoint, status="pending", age=timedelta(minutes=1))
        self.assertEqual(webhooks.deliver_due(), 0)
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(self.url("stats:webhook_toggle", endpoint.public_id))
        event.refresh_from_db()
        self.assertEqual(event.status, "delivered")

    def test_editing_changes_the_filters_and_checks_the_url_again(self):
        endpoint, _secret = self.create()
        response = self.client.post(
            self.url("stats:webhook_edit", endpoint.public_id),
            form(self.receiver.url, event_types=["opened", "clicked"]),
        )
        self.assertEqual(response.status_code, 302)
        endpoint.refresh_from_db()
        self.assertEqual(endpoint.event_types, ["opened", "clicked"])
        with override_settings(WEBHOOK_ALLOW_PRIVATE=False):
            response = self.client.post(
                self.url("stats:webhook_edit", endpoint.public_id), form("http://192.168.1.1/")
            )
        self.assertEqual(response.status_code, 400)
        endpoint.refresh_from_db()
        self.assertEqual(endpoint.url, self.receiver.url)

    def test_a_new_secret_replaces_the_old_one(self):
        endpoint, old = self.create()
        self.assertContains(self.client.get(self.url("stats:webhook_secret", endpoint.public_id)), "Replace")
        response = self.client.post(self.url("stats:webhook_secret", endpoint.public_id))
        new = response.context["secret"]
        self.assertNotEqual(new, old)
        endpoint.refresh_from_db()
        self.assertEqual(decrypt(endpoint.secret_encrypted), new)

    def test_delete_asks_first(self):
        endpoint, _secret = self.create()
        self.assertContains(self.client.get(self.url("stats:webhook_delete", endpoint.public_id)), "Delete")
        self.assertTrue(WebhookEndpoint.objects.exists())
        self.client.post(self.url("stats:webhook_delete", endpoint.public_id))
        self.assertFalse(WebhookEndpoint.objects.exists())

    def test_operators_and_viewers_cannot_reach_the_pages(self):
        endpoint, _secret = self.create()
        for user in ("operator@example.com", "viewer@example.com"):
            self.client.login(username=user, password=PASSWORD)
            for name, args in (("stats:webhooks", ()), ("stats:webhook_detail", (endpoint.public_id,))):
                with self.subTest(user=user, page=name):
                    self.assertEqual(self.client.get(self.url(name, *args)).status_code, 403)

    def test_owners_hear_of_an_endpoint_disabled_after_a_day(self):
        endpoint, _secret = self.create()
        day_ago = timezone.now() - timedelta(hours=24)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=day_ago)
        self.event(endpoint, status="pending", age=timedelta(hours=24))
        self.receiver.replies = [500]
        with self.captureOnCommitCallbacks(execute=True):
            webhooks.deliver_due()
        endpoint.refresh_from_db()
        self.assertFalse(endpoint.enabled)
        self.assertIn(self.url("stats:webhook_detail", endpoint.public_id), mail.outbox[-1].body)
        page = self.client.get(self.url("stats:webhook_detail", endpoint.public_id))
        self.assertContains(page, "Disabled by directmail")


@override_settings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOW_HTTP=True)
class RedisStreamTest(AccountTestCase):
    def setUp(self):
        self.client.login(username="owner@example.com", password=PASSWORD)

    def test_without_redis_the_form_offers_webhooks_only(self):
        response = self.client.get(self.url("stats:webhook_create"))
        self.assertNotContains(response, "Redis stream")
        response = self.client.post(self.url("stats:webhook_create"), form(kind="redis", stream="events"))
        self.assertEqual(response.status_code, 400)
        self.assertFalse(WebhookEndpoint.objects.exists())

    def test_events_are_added_to_the_accounts_stream(self):
        import redis

        if not redis_is_up():
            pytest.skip("Redis is not running on 127.0.0.1:6379")

        with override_settings(REDIS_URL=REDIS_URL):
            self.assertContains(self.client.get(self.url("stats:webhook_create")), "Redis stream")
            response = self.client.post(
                self.url("stats:webhook_create"), form(kind="redis", stream="mail-events")
            )
            self.assertEqual(response.status_code, 200)
            endpoint = WebhookEndpoint.objects.get()
            key = f"directmail:{self.account.public_id}:mail-events"
            self.assertEqual(endpoint.stream_key, key)
            client = redis.Redis.from_url(REDIS_URL)
            client.delete(key)
            self.addCleanup(client.delete, key)
            response = self.client.post(self.url("stats:webhook_test", endpoint.public_id), follow=True)
            self.assertContains(response, "Test event delivered")
        [(_entry_id, fields)] = client.xrange(key)
        event = WebhookEvent.objects.get()
        self.assertEqual(fields[b"id"].decode(), event.public_id)
        self.assertEqual(json.loads(fields[b"body"])["id"], event.public_id)
        self.assertEqual(fields[b"type"], b"dm:Deliver:Succeed")
