"""The sender-address pages show the SMTP settings, and the snippet on the password page works as pasted."""

import html
import re
import subprocess
import sys

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from sending.models import Envelope
from tests.base import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_smtplib_snippet_sends_through_the_server(smtp):
    user = smtp.account.memberships.get().user
    user.set_password(PASSWORD)
    user.save()
    browser = Client()
    browser.force_login(user)
    args = [smtp.account.public_id, smtp.sender.public_id]
    url = reverse("sending:sender_smtp_password", args=args)
    browser.post("/confirm-password/", {"password": PASSWORD, "next": url})
    ports = {"SMTPD_PUBLIC_HOST": "127.0.0.1", "SMTPD_PORT": [smtp.port], "SMTPD_TLS_PORT": [smtp.tls_port]}
    with override_settings(**ports):
        page = browser.post(url, {"password": ""}).content.decode()  # empty: a generated password
        detail = browser.get(reverse("sending:sender_detail", args=args)).content.decode()
    snippets = [html.unescape(c) for c in re.findall(r'<code id="smtp-snippet-\d+">(.*?)</code>', page, re.S)]
    smtplib_code, django_code = snippets
    assert f"EMAIL_PORT = {smtp.tls_port}" in django_code
    run = subprocess.run([sys.executable, "-c", smtplib_code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert Envelope.objects.get().source == "smtp"
    assert "127.0.0.1" in detail and "&lt;the SMTP password&gt;" in detail
