"""From what an author writes to what is sent: MJML compiled on save (errors at their line), styles
inlined with @media rules kept, the sanitizer still run on the result, the text part keeping link URLs,
and a delivered message (at an SMTP sink) that has both."""

import email
import email.policy

from django.test import TestCase, override_settings

from accounts.audit import SYSTEM
from accounts.errors import ServiceError
from sending.delivery.worker import deliver_due
from sending.services.messages import Content, Mail, message_enqueue
from sending.services.senders import sender_address_create
from templates_app import compose, services
from templates_app.models import TemplateVersion
from templates_app.plaintext import text_from_html
from tests.base import People
from tests.sending.helpers import verified_domain
from tests.smtpsink import SmtpSink

MJML = """<mjml>
  <mj-head>
    <mj-style>.note { color: #c00000 } @media (max-width: 480px) { .note { font-size: 12px } }</mj-style>
  </mj-head>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text css-class="note">Hello {UserName}</mj-text>
        <mj-button href="https://shop.example/sale?u={UserName}">See the sale</mj-button>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>"""

HTML = """<html><head><style>
  p { color: #333333; font-family: Arial } .big { font-size: 20px }
  @media only screen and (max-width: 600px) { .big { font-size: 16px !important } }
  @media (prefers-color-scheme: dark) { p { color: #eeeeee } }
</style></head><body>
<h1 class="big">Our news</h1>
<p>Read <a href="https://shop.example/news">this month's news</a>.</p>
<ul><li>Tea</li><li>Cups</li></ul>
<img src="https://shop.example/logo.png" alt="Shop" onerror="alert(1)">
<script>alert(2)</script>
</body></html>"""


class ComposeTests(People, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()

    def test_mjml_is_compiled_on_save_and_its_source_kept(self):
        template = services.template_create(
            account=self.account,
            name="sale",
            subject="Sale",
            html_body=MJML,
            body_format="mjml",
            actor=SYSTEM,
        )
        version = template.latest_version()
        self.assertEqual((version.body_format, version.source), ("mjml", MJML))
        self.assertIn("<table", version.html_body)  # MJML's responsive layout
        self.assertIn("color: #c00000", version.html_body)  # mj-style inlined
        self.assertIn("@media (max-width: 480px){.note{font-size: 12px;}}", version.html_body)
        self.assertIn('href="https://shop.example/sale?u={UserName}"', version.html_body)
        self.assertNotIn("<mj-", version.html_body)
        self.assertEqual(version.removed, [])  # the compiler's document frame is not the author's doing

    def test_an_mjml_error_names_its_line_and_saves_nothing(self):
        template = services.template_create(account=self.account, name="t", actor=SYSTEM)
        broken = MJML.replace("</mj-text>", "")
        with self.assertRaises(compose.SourceError) as caught:
            services.template_edit(template=template, subject="s", html_body=broken, body_format="mjml",
                                   actor=SYSTEM)  # fmt: skip
        self.assertEqual(caught.exception.line, 10)
        self.assertIn("Line 10: </mj-column> closes <mj-text>, opened on line 8.", str(caught.exception))
        self.assertIsInstance(caught.exception, ServiceError)
        self.assertEqual(TemplateVersion.objects.get(template=template).source, "")
        with self.assertRaises(compose.SourceError) as caught:
            compose.prepare(MJML.replace("mj-section>", "mj-sectoin>"), "mjml")
        self.assertEqual((caught.exception.line, str(caught.exception)),
                         (6, "Line 6: <mj-sectoin> is not an MJML element."))  # fmt: skip

    def test_styles_are_inlined_media_queries_kept_and_the_result_sanitized(self):
        prepared = compose.prepare(HTML)
        self.assertIn('<h1 class="big" style="font-size: 20px;">', prepared.html)
        self.assertIn('style="color: #333333;font-family: Arial;"', prepared.html)
        self.assertIn("<head><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                      "<style>@media only screen and (max-width: 600px)", prepared.html)  # fmt: skip
        self.assertEqual(compose.prepare(prepared.html).html, prepared.html)  # prepared again: the same
        self.assertIn("@media (prefers-color-scheme: dark){p{color: #eeeeee;}}", prepared.html)
        self.assertNotIn("<script", prepared.html)
        self.assertNotIn("onerror", prepared.html)
        self.assertIn("onerror on <img> (1)", prepared.removed)

    def test_what_a_style_element_could_smuggle_is_dropped(self):
        attempts = [
            "@media screen{p{background:url(https://tracker.example/x)}}",
            "@media screen{p{width:expression(alert(1))}}",
            "@import url(https://evil.example/x.css); @media screen{p{color:red}}",
            "@media screen{p{color:red}}</style><script>alert(1)</script><style>",
            "@media screen{p</style><img src=x onerror=alert(1)>{color:red}}",
            "@font-face{font-family:x;src:url(https://evil.example/f)}",
            "@media screen and (max-width:1px){x{}}",
        ]
        for css in attempts:
            with self.subTest(css=css):
                html = compose.prepare(f"<style>{css}</style><p>Hi</p>").html
                self.assertNotIn("url(", html)
                self.assertNotIn("expression", html)
                self.assertNotIn("<script", html)
                self.assertNotIn("onerror", html)
                self.assertNotIn("@import", html)
                self.assertNotIn("@font-face", html)

    def test_the_text_part_keeps_links_lists_and_headings(self):
        text = text_from_html(compose.prepare(HTML).html)
        self.assertIn("Our news", text)
        self.assertIn("Read this month's news (https://shop.example/news).", text)
        self.assertIn("* Tea", text)
        self.assertNotIn("alert", text)
        self.assertNotIn("color", text)  # no CSS in the text


@override_settings(DELIVERY_MODE="relay")
class DeliveredTests(People, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()
        cls.sender = sender_address_create(account=cls.account, domain=verified_domain(cls.account),
                                           local_part="news", send_type="trigger", actor=SYSTEM)  # fmt: skip

    def test_the_mail_that_arrives_is_inlined_and_its_text_part_linked(self):
        personal = HTML.replace("</body>", "<p>For {UserName}: <a href='{Offer}'>your offer</a></p></body>")
        template = services.template_create(
            account=self.account, name="news", subject="News for {UserName}", html_body=personal, actor=SYSTEM
        )
        version = template.latest_version()
        content = Content(subject=version.subject, html_body=version.html_body, templated=True)
        values = {"UserName": "Ann & Bo", "Offer": "https://shop.example/o/1"}
        message_enqueue(Mail(account=self.account, sender=self.sender, to="ann@dest.test", content=content,
                             variables={"ann@dest.test": values}))  # fmt: skip
        with SmtpSink() as sink, override_settings(SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}"):
            deliver_due(max_seconds=20)
        [arrived] = sink.messages
        mail = email.message_from_bytes(arrived.data, policy=email.policy.default)
        self.assertEqual(str(mail["Subject"]), "News for Ann & Bo")
        html = mail.get_body(("html",)).get_content()
        self.assertIn('style="color: #333333;font-family: Arial;"', html)
        self.assertIn("@media only screen and (max-width: 600px)", html)
        text = mail.get_body(("plain",)).get_content()
        self.assertIn("this month's news (https://shop.example/news)", text)
        self.assertIn("For Ann & Bo: your offer (https://shop.example/o/1)", text)  # the recipient's own
        self.assertIn("For Ann &amp; Bo", html)
