"""What API clients are told while the database or the cache is gone, for real (a web process in a child
reaches PostgreSQL through a switch the test turns off; the cache is a Redis of the test's own that it
kills): DirectMail's JSON with a temporary code, never an HTML page, and a call whose mail was stored is a
success whatever fails after the commit."""

import subprocess
import sys
import time
import urllib.request

import pytest
from alibabacloud_dm20151123 import models as dm
from django.db import connection
from django.test import override_settings
from Tea.exceptions import TeaException

from sending.models import Envelope, Message, MessageState
from sending.services import messages
from tests.api.clients import tea_client
from tests.faults import OwnRedis, TcpSwitch
from tests.processes import MANAGE, child_env, through
from tests.smtpsink import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def send(api, endpoint: str | None = None):
    client = tea_client({**api, "endpoint": endpoint or api["endpoint"]})
    return client.single_send_mail(
        dm.SingleSendMailRequest(
            account_name="noreply@mail.example.com", address_type=1, reply_to_address=False,
            to_address="a@example.org", subject="Outage", text_body="x",
        )
    )  # fmt: skip


@pytest.mark.skipif(not OwnRedis.available(), reason="needs redis-server")
def test_with_the_cache_gone_a_stored_send_is_a_success(api):
    with OwnRedis() as redis:
        caches = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url}
        }
        with override_settings(CACHES=caches):
            assert send(api).status_code == 200
            redis.stop()
            answer = send(api)  # the kick of delivery after the commit meets the dead cache
            assert answer.status_code == 200 and answer.body.env_id
            assert Envelope.objects.filter(env_id=answer.body.env_id).count() == 1
            assert messages.kick_owed()
            redis.start()
            for _second in range(30):  # the kick this process owes goes through once the cache is back
                if not messages.kick_owed():
                    break
                time.sleep(0.5)
    assert Envelope.objects.count() == 2
    assert set(Message.objects.values_list("state", flat=True)) == {MessageState.DELIVERED}


def start_web(database: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = child_env(database, DELIVERY_MODE="capture")
    argv = [sys.executable, MANAGE, "runserver", "--noreload", "--nothreading", f"127.0.0.1:{port}"]
    web = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
            return web, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    web.kill()
    raise RuntimeError("the web process did not start")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="stops PostgreSQL (the test runs on it)")
def test_with_the_database_gone_every_answer_is_directmail_json_503(api):
    with TcpSwitch(connection.settings_dict["PORT"] or 5432) as pg:
        web, endpoint = start_web(through(pg.port))
        try:
            assert send(api, endpoint).status_code == 200
            pg.down()
            for _attempt in range(3):  # the key lookup, then whatever comes first on a new connection
                with pytest.raises(TeaException) as caught:
                    send(api, endpoint)
                assert (caught.value.code, caught.value.statusCode) == ("ServiceUnavailable", 503)
                assert "5432" not in caught.value.message and "connection" not in caught.value.message
            pg.up()
            started = time.monotonic()
            while True:
                try:
                    assert send(api, endpoint).status_code == 200
                    break
                except TeaException:
                    assert time.monotonic() - started < 30, "the API did not recover within 30 s"
                    time.sleep(0.5)
        finally:
            web.kill()
            web.wait(10)
    assert Envelope.objects.count() == 2
