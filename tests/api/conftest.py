"""The API tests' live server: an account with a verified trigger sender and an access key."""

import pytest
from django.test import override_settings

from accounts.access import access_key_create
from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending.services.senders import sender_address_create
from tests.sending.helpers import verified_domain


@pytest.fixture
def api(live_server):
    """An account with a verified sender and an access key; the server's host:port."""
    _user, account, _created = user_signup(
        email="dev@example.com", password=None, account_name="Dev", actor=SYSTEM
    )
    domain = verified_domain(account, "mail.example.com")
    sender_address_create(
        account=account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
    )
    key, secret = access_key_create(account=account, actor=SYSTEM)
    endpoint = live_server.url.removeprefix("http://")
    with override_settings(DELIVERY_MODE="capture"):
        yield {"account": account, "domain": domain, "key": key, "secret": secret, "endpoint": endpoint}
