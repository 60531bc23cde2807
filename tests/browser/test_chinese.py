"""The console in Simplified Chinese: a browser set to English switches to 中文 in the user menu, then
walks Overview, Domains, Templates, Batch sends, Statistics and Webhooks and finds no English left in what
it reads (names, codes and data excepted). Times are shown in the account's zone, named."""

import re

import pytest
from django.test import override_settings

from accounts.audit import SYSTEM, Actor
from accounts.models import Membership
from accounts.roles import Role
from accounts.services import user_signup
from sending.models import BatchJob
from sending.services import lists as list_service
from sending.services.batch import job_save
from sending.services.senders import sender_address_create
from templates_app.services import template_create, version_approve, version_submit
from tests.base import make_user
from tests.browser.conftest import log_in, screenshot, switch_to_chinese
from tests.sending.helpers import verified_domain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long Password 2026"
# What stays in Latin letters in a Chinese console: names of protocols, records, formats and products.
ALLOWED = {
    "directmail",
    "DirectMail",
    "English",
    "DNS",
    "SPF",
    "DKIM",
    "DMARC",
    "MX",
    "TXT",
    "CNAME",
    "API",
    "SMTP",
    "SDK",
    "SDKs",
    "CSV",
    "HTML",
    "JSON",
    "URL",
    "IP",
    "ID",
    "EnvId",
    "AccessKey",
    "Secret",
    "TagName",
    "ReceiversName",
    "UTF",
    "GBK",
    "SMS",
    "CST",
    "UTC",
    "Webhook",
    "Redis",
    "CloudEvents",
    "HTTPS",
    "POST",
    "https",
    "Selector",
    "Gmail",
    "Yahoo",
    "rsa",
    "sha",
    "RSA",
    "CIDR",
    "IPv",
    "Message",
    "From",
    "Chart",
    "FBL",
    "Feedback",
    "Postmaster",
    "Google",
    "TLS",
    "MTA",
    "STS",
    "DANE",
    "RPT",
    "Microsoft",
    "MJML",
    "SpamAssassin",
    "SPAMD",
    "spamd",
    "http",
}
VISIBLE_TEXT = """() => {
  const root = document.body.cloneNode(true);
  const data = "code, pre, script, style, select, textarea, input, canvas, .dropdown-menu, .cm-editor";
  root.querySelectorAll(data)
    .forEach((element) => element.remove());
  return root.textContent;
}"""


def english_left(page) -> list[str]:
    text = page.evaluate(VISIBLE_TEXT)
    text = re.sub(
        r"\S+@\S+|\S+\.(test|example|com|org)\S*|\b[\w-]+:\w+:\w+\b|\b[A-Z]\w+/\w+|\b\dxx\b|\b\w+=\w+|\{\w+\}",
        " ",
        text,
    )
    words = re.findall(r"[A-Za-z][A-Za-z'\u2019]+", text)
    return sorted({w for w in words if w not in ALLOWED})


def test_a_chinese_speaking_operator_sees_no_english(new_page, live_server):
    owner, account, _created = user_signup(
        email="owner@example.com", password=PASSWORD, account_name="商城", actor=SYSTEM
    )
    reviewer = make_user("reviewer@example.com")
    Membership.objects.create(account=account, user=reviewer, role=Role.REVIEWER)
    domain = verified_domain(account, "mail.shop.example")
    sender = sender_address_create(
        account=account, domain=domain, local_part="news", send_type="batch", actor=SYSTEM
    )
    template = template_create(
        account=account, name="周报", subject="你好 {UserName}", html_body="<p>你好</p>", actor=SYSTEM
    )
    version_approve(
        version=version_submit(version=template.latest_version(), actor=SYSTEM), actor=Actor(user=reviewer)
    )
    template.refresh_from_db()
    members = list_service.list_create(account=account, name="会员", actor=SYSTEM)
    list_service.recipients_save(recipient_list=members, details=[{"e": "li@dest.test"}], actor=SYSTEM)
    job_save(
        job=BatchJob(account=account, name="十一月", template=template, recipient_list=members, sender=sender,
                     created_by=owner),
        actor=SYSTEM,
    )  # fmt: skip

    with override_settings(PUBLIC_BASE_URL=live_server.url):
        page = new_page()
        log_in(page, "owner@example.com", PASSWORD)
        switch_to_chinese(page)
        assert page.locator("html").get_attribute("lang") == "zh-hans"

        visits = [
            ("概览", "overview"),
            ("发信域名", "domains"),
            ("邮件模板", "templates"),
            ("批量发送", "batch-sends"),
            ("数据统计", "statistics"),
            ("Webhook", "webhooks"),
        ]
        for link, name in visits:
            page.locator(".console-sidebar").get_by_role("link", name=link, exact=True).click()
            page.wait_for_load_state()
            assert english_left(page) == [], f"{name}: English left on {page.url}"
            screenshot(page, f"zh-{name}")
        # One level deeper: a domain's records, a template, a batch send's pre-flight.
        for section, item in (
            ("发信域名", "mail.shop.example"),
            ("邮件模板", "周报"),
            ("批量发送", "十一月"),
        ):
            page.locator(".console-sidebar").get_by_role("link", name=section, exact=True).click()
            page.get_by_role("link", name=item).first.click()
            page.wait_for_load_state()
            assert english_left(page) == [], f"English left on {page.url}"
        screenshot(page, "zh-batch-preflight")
        # The audit log: times in the account's zone (Asia/Shanghai), named; actions in Chinese.
        page.locator(".console-sidebar").get_by_role("link", name="操作审计", exact=True).click()
        assert english_left(page) == [], f"English left on {page.url}"
        assert "CST" in page.locator("main").inner_text()
        screenshot(page, "zh-audit-log")
