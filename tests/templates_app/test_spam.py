"""Spam scores from a real SpamAssassin spamd on loopback: a known spammy sample scores high and a clean
receipt low; a submitted version is scored for its reviewer; the editor asks on demand; without SPAMD_URL
the console says the check is not configured, and an unreachable spamd never blocks a submit."""

from django.test import TestCase, override_settings

from accounts.audit import SYSTEM
from templates_app import services, spam
from tests.base import AccountTestCase
from tests.smtpsink import free_port
from tests.spamd import Spamd

SPAMMY_SUBJECT = "CONGRATULATIONS!!! You WON $1,000,000 - CLAIM NOW FREE!!!"
SPAMMY = (
    "<p>Dear Friend, You have been selected as a WINNER of our international lottery! Claim your "
    "$1,000,000 prize NOW. 100% FREE, no risk, act now! Send your bank account details. Viagra Cialis "
    "cheap meds. Click here: <a href='http://192.168.1.1/claim'>CLICK HERE</a>. Urgent reply needed, "
    "make money fast, work from home, earn $5000 weekly!</p>"
)
CLEAN_SUBJECT = "Your receipt for order 1042"
CLEAN = (
    "<p>Hello {UserName},</p><p>Thank you for your order 1042. It ships on Monday; you can follow it on "
    "<a href='https://shop.example/orders/1042'>your order page</a>.</p><p>Kind regards,<br>The Shop team</p>"
)


class SpamdTests(AccountTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.spamd = Spamd().__enter__()
        cls.addClassCleanup(cls.spamd.__exit__, None, None, None)

    def score(self, subject: str, html: str) -> spam.SpamResult:
        raw = spam.message_for(subject=subject, html=html, text="", data={"UserName": "Ann"},
                               sender="orders@shop.example", from_alias="Shop")  # fmt: skip
        with override_settings(SPAMD_URL=self.spamd.url):
            return spam.score(raw)

    def test_a_spammy_sample_scores_high_and_a_clean_one_low(self):
        spammy = self.score(SPAMMY_SUBJECT, SPAMMY)
        self.assertTrue(spammy.is_spam, spammy)
        self.assertGreaterEqual(spammy.score, spammy.threshold)
        fired = {name for _points, name, _description in spammy.rules}
        self.assertTrue(fired & {"DEAR_FRIEND", "DRUGS_ERECTILE", "LOTS_OF_MONEY", "US_DOLLARS_3"}, fired)
        clean = self.score(CLEAN_SUBJECT, CLEAN)
        self.assertLess(clean.score, 2.0, clean)
        self.assertFalse(clean.is_spam)

    def test_a_submitted_version_is_scored_for_its_reviewer(self):
        template = services.template_create(account=self.account, name="lottery", subject=SPAMMY_SUBJECT,
                                            html_body=SPAMMY, actor=SYSTEM)  # fmt: skip
        with override_settings(SPAMD_URL=self.spamd.url), self.captureOnCommitCallbacks(execute=True):
            services.version_submit(version=template.latest_version(), actor=SYSTEM)
        version = template.latest_version()
        self.assertGreaterEqual(version.spam_score, 5.0)
        self.assertEqual(version.spam_report["threshold"], 5.0)
        self.assertTrue(any(rule[1] == "DEAR_FRIEND" for rule in version.spam_report["rules"]))
        self.client.force_login(self.reviewer)
        page = self.client.get(self.url("templates_app:template_detail", template.public_id))
        self.assertContains(page, f"When submitted, SpamAssassin scored it {version.spam_score}")
        self.assertContains(page, "<code>DEAR_FRIEND</code>", html=True)

    def test_the_editor_asks_on_demand(self):
        template = services.template_create(account=self.account, name="receipt", actor=SYSTEM)
        self.client.force_login(self.operator)
        url = self.url("templates_app:template_spam_check", template.public_id)
        with override_settings(SPAMD_URL=self.spamd.url):
            answer = self.client.post(url, {"subject": CLEAN_SUBJECT, "html_body": CLEAN,
                                            "data": '{"UserName": "Ann"}'}).json()  # fmt: skip
        self.assertEqual((answer["configured"], answer["spam"]), (True, False))
        self.assertLess(answer["score"], answer["threshold"])


class WithoutSpamdTests(AccountTestCase):
    def test_not_configured_is_said_and_nothing_is_scored(self):
        template = services.template_create(account=self.account, name="t", subject="s", html_body="<p>x</p>",
                                            actor=SYSTEM)  # fmt: skip
        self.client.force_login(self.operator)
        page = self.client.get(self.url("templates_app:template_detail", template.public_id))
        self.assertContains(page, "Spam check not configured")
        answer = self.client.post(self.url("templates_app:template_spam_check", template.public_id)).json()
        self.assertEqual(answer["configured"], False)
        viewer = self.client_class()
        viewer.force_login(self.viewer)  # a viewer reads templates, and asks spamd nothing
        url = self.url("templates_app:template_spam_check", template.public_id)
        self.assertEqual(viewer.post(url).status_code, 403)
        with self.captureOnCommitCallbacks(execute=True):
            services.version_submit(version=template.latest_version(), actor=SYSTEM)
        self.assertIsNone(template.latest_version().spam_score)

    def test_an_unreachable_spamd_never_blocks_a_submit(self):
        template = services.template_create(account=self.account, name="t", subject="s", html_body="<p>x</p>",
                                            actor=SYSTEM)  # fmt: skip
        with (
            override_settings(SPAMD_URL=f"spamd://127.0.0.1:{free_port()}", SPAMD_TIMEOUT=3),
            self.captureOnCommitCallbacks(execute=True),
        ):
            services.version_submit(version=template.latest_version(), actor=SYSTEM)
        version = template.latest_version()
        self.assertEqual(version.status, "submitted")
        self.assertIn("did not answer", version.spam_report["error"])


class ParseTests(TestCase):
    def test_a_report_table_is_read_with_its_long_descriptions(self):
        body = (
            "Content analysis details:   (6.1 points, 5.0 required)\n\n"
            " pts rule name              description\n"
            "---- ---------------------- --------------------------------------------------\n"
            " 0.1 TVD_PH_SEC             BODY: Message includes a phrase commonly used in phishing\n"
            "                            mails\n"
            " 2.6 DEAR_FRIEND            BODY: Dear Friend? That's not very dear!\n"
            "-0.0 NO_RELAYS              Informational: message was not relayed via SMTP\n\n"
        )
        self.assertEqual(spam.parse_report(body), [
            (0.1, "TVD_PH_SEC", "BODY: Message includes a phrase commonly used in phishing mails"),
            (2.6, "DEAR_FRIEND", "BODY: Dear Friend? That's not very dear!"),
            (-0.0, "NO_RELAYS", "Informational: message was not relayed via SMTP"),
        ])  # fmt: skip
