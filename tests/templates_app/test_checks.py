"""Pre-flight checks of templates: each fires on what it is about and is quiet on a clean template."""

from django.test import SimpleTestCase

from accounts.audit import SYSTEM
from templates_app import services
from templates_app.checks import GMAIL_CLIP_BYTES, check
from tests.base import AccountTestCase

CLEAN = (
    "<h1>Your order shipped</h1><p>Hello {UserName}, your tea is on its way and arrives on Monday. "
    "Follow it on <a href='https://shop.example/orders/1'>your order page</a>; questions go to "
    "<a href='mailto:help@shop.example'>help@shop.example</a>. Thank you for shopping with us.</p>"
    "<img src='https://shop.example/logo.png' alt='Shop'>"
    "<p><a href='https://shop.example/unsubscribe'>Unsubscribe</a></p>"
)


def codes(**kwargs) -> set[str]:
    return {finding.code for finding in check(**kwargs)}


class ChecksTests(SimpleTestCase):
    def test_a_clean_template_has_nothing_to_say(self):
        self.assertEqual(check(html=CLEAN, text="Your order shipped"), [])
        self.assertEqual(check(html="", text="only text"), [])

    def test_gmail_clips_large_html(self):
        big = CLEAN + "<p>" + "x" * GMAIL_CLIP_BYTES + "</p>"
        [finding] = [f for f in check(html=big, text="t") if f.code == "size"]
        self.assertIn("102 KB", finding.message)

    def test_unsubscribe_link_for_batch(self):
        without = CLEAN.replace("<p><a href='https://shop.example/unsubscribe'>Unsubscribe</a></p>", "")
        self.assertIn("unsubscribe", codes(html=without, text="t"))  # may be sent in batch
        self.assertIn("unsubscribe", codes(html=without, text="t", batch=True))
        self.assertNotIn("unsubscribe", codes(html=without, text="t", batch=True, unsubscribe_added=True))
        self.assertNotIn("unsubscribe", codes(html=without, text="t", batch=False))
        chinese = without + "<p><a href='https://shop.example/u'>退订</a></p>"
        self.assertNotIn("unsubscribe", codes(html=chinese, text="t", batch=True))

    def test_images_without_alt_and_insecure_links(self):
        html = CLEAN + "<img src='http://cdn.example/banner.png'><a href='http://shop.example/old'>old</a>"
        findings = {f.code: f for f in check(html=html, text="t")}
        self.assertEqual(findings["img_alt"].examples, ("http://cdn.example/banner.png",))
        self.assertEqual(set(findings["insecure"].examples),
                         {"http://cdn.example/banner.png", "http://shop.example/old"})  # fmt: skip

    def test_link_text_showing_another_domain(self):
        html = CLEAN + "<a href='https://login.evil.example/x'>www.mybank.com</a>"
        [finding] = [f for f in check(html=html, text="t") if f.code == "link_mismatch"]
        self.assertEqual(finding.examples, ("www.mybank.com → login.evil.example",))
        same_site = CLEAN + "<a href='https://news.shop.example/x'>shop.example</a>"
        self.assertNotIn("link_mismatch", codes(html=same_site, text="t"))
        tracked = CLEAN + "<a href='https://t.example/?u={UserName}'>https://t.example</a>"
        self.assertNotIn("link_mismatch", codes(html=tracked, text="t"))

    def test_no_text_part_is_a_note(self):
        [finding] = [f for f in check(html=CLEAN) if f.code == "no_text"]
        self.assertEqual(finding.level, "info")

    def test_variables_the_list_lacks(self):
        html = CLEAN + "<p>{Coupon} {City}</p>"
        [finding] = [f for f in check(html=html, text="t", list_variables={"UserName", "City"})
                     if f.code == "unknown_variable"]  # fmt: skip
        self.assertEqual(finding.examples, ("Coupon",))
        self.assertNotIn("unknown_variable", codes(html=html, text="t"))  # no list: not known

    def test_image_only_mail(self):
        html = "<a href='https://shop.example/sale'><img src='https://shop.example/sale.png' alt='Sale'></a>"
        self.assertIn("image_only", codes(html=html, text="t", batch=False))
        self.assertNotIn("image_only", codes(html=CLEAN, text="t"))


class ShownTests(AccountTestCase):
    def test_the_template_page_and_the_review_queue_show_the_checks(self):
        template = services.template_create(
            account=self.account, name="promo", subject="Sale", html_body="<img src='http://x.example/a.png'>",
            actor=SYSTEM,
        )  # fmt: skip
        self.client.force_login(self.operator)
        page = self.client.get(self.url("templates_app:template_detail", template.public_id))
        self.assertContains(page, 'data-check="img_alt"')
        self.assertContains(page, 'data-check="insecure"')
        services.version_submit(version=template.latest_version(), actor=SYSTEM)
        self.client.force_login(self.reviewer)
        queue = self.client.get(self.url("templates_app:review_queue"))
        self.assertContains(queue, "1 image has no alt text")
        self.assertContains(queue, 'data-check="image_only"')

    def test_the_editor_completes_directmails_fields_and_the_lists_own(self):
        from sending.services.lists import list_create, recipients_save

        members = list_create(account=self.account, name="members", actor=SYSTEM)
        details = [{"e": "a@dest.test"}, {"e": "b@dest.test", "City": "杭州"}]
        recipients_save(recipient_list=members, details=details, actor=SYSTEM)
        template = services.template_create(account=self.account, name="t", actor=SYSTEM)
        self.client.force_login(self.operator)
        page = self.client.get(self.url("templates_app:template_detail", template.public_id))
        standard = ["UserName", "NickName", "Gender", "Birthday", "Mobile", "EAddr"]
        self.assertEqual(page.context["completions"][:6], standard)
        self.assertIn("City", page.context["completions"])
        self.assertContains(page, 'id="editor-variables"')
