"""Statistics in a browser: mail is sent with tracking on; the recipient's client loads the pixel and
follows a link; the dashboard's numbers and charts move."""

import email
import re
from email.policy import default as default_policy
from html import unescape

import pytest
from django.test import override_settings

from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending.delivery.worker import deliver_due
from sending.services.messages import Content, Mail, message_enqueue
from sending.services.senders import sender_address_create
from tests.browser.conftest import log_in, screenshot
from tests.sending.helpers import verified_domain
from tests.smtpsink import SmtpSink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long Password 2026"


def totals(page) -> dict[str, str]:
    return {
        key: page.locator(f"[data-total={key}]").inner_text()
        for key in ("requests", "delivered", "unique_opens", "unique_clicks")
    }


def test_opens_and_clicks_move_the_dashboard(new_page, live_server):
    _owner, account, _created = user_signup(
        email="owner@example.com", password=PASSWORD, account_name="Shop", actor=SYSTEM
    )
    sender = sender_address_create(
        account=account, domain=verified_domain(account, "mail.shop.example"), local_part="hi",
        send_type="trigger", actor=SYSTEM,
    )  # fmt: skip
    landing = f"{live_server.url}/healthz"
    with (
        SmtpSink() as sink,
        override_settings(
            PUBLIC_BASE_URL=live_server.url,
            DELIVERY_MODE="relay",
            SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}",
        ),
    ):
        message_enqueue(
            Mail(
                account=account,
                sender=sender,
                to="ann@dest.test",
                content=Content(
                    subject="Offer",
                    html_body=f'<p><a href="{landing}">See the offer</a></p>',
                    open_trace=True,
                    click_trace=True,
                ),
            )
        )
        deliver_due(max_seconds=20)
        html = email.message_from_bytes(sink.messages[0].data, policy=default_policy).get_body(("html",))
        content = html.get_content()
        pixel = unescape(re.search(r'<img src="([^"]+)"', content).group(1))
        link = unescape(re.search(r'href="([^"]+)"', content).group(1))

        page = new_page()
        log_in(page, "owner@example.com", PASSWORD)
        page.get_by_role("link", name="Statistics").first.click()
        assert totals(page) == {"requests": "1", "delivered": "1", "unique_opens": "0", "unique_clicks": "0"}

        reader = new_page()  # the recipient's mail client: no login
        reader.goto(pixel)
        reader.goto(link)
        assert reader.url == landing  # the redirect went where the sender pointed
        reader.goto(pixel)  # opened again: counted, but not as another unique open

        page.reload()
        assert totals(page) == {"requests": "1", "delivered": "1", "unique_opens": "1", "unique_clicks": "1"}
        assert page.locator("[data-rate=open]").inner_text().startswith("100.0%")
        assert page.evaluate("() => Chart.getChart('chart-days').data.datasets.length") == 6
        screenshot(page, "statistics")
