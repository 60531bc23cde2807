"""The access-key page's snippet works as pasted: run in a separate Python, it sends through a live server."""

import html
import re
import subprocess
import sys

import pytest
from django.test import Client, override_settings

from accounts.models import AccessKey
from sending.models import Envelope
from tests.base import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def snippets(page: str) -> list[str]:
    return [html.unescape(code) for code in re.findall(r'<code id="snippet-\d+">(.*?)</code>', page, re.S)]


def test_the_snippet_on_the_created_key_page_sends_a_mail(api, live_server):
    user = api["account"].memberships.get().user
    user.set_password(PASSWORD)
    user.save()
    browser = Client()
    browser.force_login(user)
    url = f"/a/{api['account'].public_id}/access-keys/new/"
    browser.post("/confirm-password/", {"password": PASSWORD, "next": url})
    with override_settings(PUBLIC_BASE_URL=live_server.url):
        page = browser.post(url, {"description": "snippet"}).content.decode()
        listing = browser.get(f"/a/{api['account'].public_id}/access-keys/").content.decode()
    key = AccessKey.objects.get(description="snippet")
    tea, core = snippets(page)
    assert f'endpoint="{api["endpoint"]}"' in tea and key.secret() in tea
    assert 'account_name="noreply@mail.example.com"' in tea
    for code in (tea, core):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
    assert Envelope.objects.filter(account=api["account"]).count() == 2
    # The list page never shows a secret: its snippet has a placeholder.
    assert key.secret() not in listing and "&lt;your AccessKey secret&gt;" in listing
