"""Open and click tracking through the real endpoints: the pixel and links in the delivered mail, counts and
uniques, user-agent classes, and every forged, tampered or unsafe link refused without a redirect."""

import email
import re
from email.policy import default as default_policy
from html import unescape
from urllib.parse import urlsplit

from django.test import Client, TestCase, override_settings

from accounts.audit import SYSTEM
from sending import tracking
from sending.delivery.worker import deliver_due
from sending.models import Message, MessageEvent
from sending.services.messages import Content, Mail, message_enqueue
from sending.services.senders import sender_address_create
from tests.base import People
from tests.sending.helpers import verified_domain
from tests.smtpsink import SmtpSink

HTML = (
    '<html><body><p>Hi <a href="https://shop.example/offer?a=1&amp;b=2">the offer</a>, '
    "<a href='mailto:help@shop.example'>help</a>, <a href=\"/relative\">x</a>, "
    '<a href="javascript:alert(1)">y</a></p></body></html>'
)


@override_settings(PUBLIC_BASE_URL="https://track.example.net")
class TrackingTest(People, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()
        domain = verified_domain(cls.account)
        cls.sender = sender_address_create(
            account=cls.account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
        )

    def deliver(self, **options) -> str:
        content = Content(subject="Offer", html_body=HTML, **options)
        message_enqueue(Mail(account=self.account, sender=self.sender, to="ann@dest.test", content=content))
        with (
            SmtpSink() as sink,
            override_settings(DELIVERY_MODE="relay", SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}"),
        ):
            deliver_due(max_seconds=20)
        parsed = email.message_from_bytes(sink.messages[0].data, policy=default_policy)
        return parsed.get_body(("html",)).get_content()

    def test_the_delivered_html_carries_signed_links_and_the_pixel(self):
        html = self.deliver(click_trace=True, open_trace=True)
        message = Message.objects.get()
        links = [unescape(href) for href in re.findall(r'href="([^"]+)"', html)]
        self.assertEqual(links[0], tracking.click_url(message, "https://shop.example/offer?a=1&b=2"))
        self.assertIn("href='mailto:help@shop.example'", html)  # only http(s) links go through us
        self.assertIn('href="/relative"', html)
        self.assertIn('href="javascript:alert(1)"', html)
        self.assertIn(f'<img src="{tracking.open_url(message)}"', html)

        client = Client()  # no session, no cookie
        pixel = urlsplit(tracking.open_url(message)).path
        for agent in ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)", "Mozilla/5.0 (Windows NT 10.0)"):
            response = client.get(pixel, HTTP_USER_AGENT=agent)
            self.assertEqual((response.status_code, response["Content-Type"]), (200, "image/gif"))
            self.assertEqual(response["Cache-Control"], "no-store, private")
        click = urlsplit(links[0])
        response = client.get(f"{click.path}?{click.query}", HTTP_USER_AGENT="GoogleImageProxy")
        self.assertEqual(
            (response.status_code, response["Location"]), (302, "https://shop.example/offer?a=1&b=2")
        )
        message.refresh_from_db()
        self.assertEqual((message.opens, message.clicks), (2, 1))
        self.assertIsNotNone(message.first_opened_at)
        self.assertIsNotNone(message.first_clicked_at)
        agents = list(
            MessageEvent.objects.filter(type="opened").order_by("pk").values_list("detail__agent", flat=True)
        )
        self.assertEqual(agents, ["mobile", "desktop"])
        self.assertEqual(MessageEvent.objects.get(type="clicked").detail["agent"], "proxy_or_bot")
        self.assertEqual(len(client.cookies), 0)

    def test_without_tracking_the_mail_is_left_alone(self):
        html = self.deliver()
        self.assertIn('href="https://shop.example/offer?a=1&amp;b=2"', html)
        self.assertNotIn("track.example.net", html)

    def test_forged_tampered_and_unsafe_links_are_refused(self):
        self.deliver(click_trace=True)
        message = Message.objects.get()
        good = urlsplit(tracking.click_url(message, "https://shop.example/"))
        signature = good.path.rstrip("/").rsplit("/", 1)[1]
        bad = [
            f"{good.path}?u=https://evil.example/",  # another destination, the same signature
            f"/t/c/{message.pk}/{'0' * 32}/?{good.query}",  # a signature we did not make
            f"/t/c/{message.pk + 1}/{signature}/?{good.query}",  # another message's counts
        ]
        unsafe = [
            "//evil.example/",
            "https://shop.example@evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "http:evil",
        ]
        for evil in unsafe:
            signed = urlsplit(tracking.click_url(message, evil))  # even if we had signed them
            bad.append(f"{signed.path}?{signed.query}")
        for url in bad:
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 400)
                self.assertFalse(response.has_header("Location"))
        message.refresh_from_db()
        self.assertEqual(message.clicks, 0)
        # A pixel with a forged token still answers the image, and counts nothing.
        response = self.client.get(f"/t/o/{message.pk}.{'0' * 32}.gif")
        self.assertEqual(response.status_code, 200)
        message.refresh_from_db()
        self.assertEqual(message.opens, 0)

    def test_a_signed_link_of_a_message_not_delivered_shows_where_it_goes(self):
        """No open redirect on our host: a link of a message that was never delivered (minted from a held,
        failed or queued message) shows its destination and a button, and counts nothing."""
        self.deliver(click_trace=True)
        message = Message.objects.get()
        Message.objects.filter(pk=message.pk).update(state="failed")
        link = urlsplit(tracking.click_url(message, "https://phish.example/login"))
        response = self.client.get(f"{link.path}?{link.query}")
        self.assertEqual(response.status_code, 200)
        self.assertFalse(response.has_header("Location"))
        self.assertContains(response, 'href="https://phish.example/login" rel="noopener noreferrer nofollow"')
        self.assertIn("script-src 'self'", response["Content-Security-Policy"])
        message.refresh_from_db()
        self.assertEqual(message.clicks, 0)
