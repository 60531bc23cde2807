"""Recovery after an outage, with a real django-q2 cluster: PostgreSQL (the cluster reaches it through a
switch the test turns off for a while) or the Redis that is the cluster's broker and cache. Mail accepted
during the outage is delivered within seconds of the service's return, and nothing is sent twice."""

import contextlib
import sys
import time
from unittest import mock

import pytest
from django.db import connection
from django.test import override_settings
from django_q.conf import Conf

from accounts.audit import SYSTEM
from sending.models import Message, MessageState
from sending.services import messages as service
from sending.services.senders import sender_address_create
from tests.faults import OwnRedis, TcpSwitch
from tests.processes import MANAGE, child_env, database_url, start_group, stop_group, through
from tests.sending.helpers import verified_domain
from tests.smtpsink import SmtpSink

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"not within {seconds} s")


def outage(people, sink, env: dict[str, str], down, up, patches=()) -> float:
    """A cluster with `env` delivers to `sink`; mail is accepted before, during (down() .. up(), 8 s)
    and after a fault. Returns how long after up() the mail accepted during the fault arrived; checks
    that every message arrived once."""
    account, sender = people
    cluster = start_group([sys.executable, MANAGE, "qcluster"], env)
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch.object(Conf, "SYNC", False))  # kicks go to the cluster's broker
            for patch in patches:
                stack.enter_context(patch)

            def accept(to: str) -> None:
                service.message_enqueue(
                    service.Mail(
                        account=account,
                        sender=sender,
                        to=to,
                        content=service.Content(subject="Hi", text_body="x"),
                    )
                )

            accept("first@dest.test")
            wait_for(lambda: len(sink.messages) == 1, 60)
            down()
            accept("during@dest.test")  # stored by this process; the cluster cannot see it or was not told
            time.sleep(8)
            up()
            took = wait_for(lambda: len(sink.messages) == 2, 90)
            accept("after@dest.test")
            wait_for(lambda: len(sink.messages) == 3, 30)
    finally:
        stop_group(cluster)
    assert sorted(m.rcpt_tos[0] for m in sink.messages) == [
        "after@dest.test",
        "during@dest.test",
        "first@dest.test",
    ]
    assert set(Message.objects.values_list("state", flat=True)) == {MessageState.DELIVERED}
    return took


@pytest.mark.skipif(connection.vendor != "postgresql", reason="stops PostgreSQL (the test runs on it)")
def test_mail_accepted_during_an_outage_goes_out_within_seconds_of_its_end(people):
    with SmtpSink() as sink, TcpSwitch(connection.settings_dict["PORT"] or 5432) as pg:
        env = child_env(
            through(pg.port), DELIVERY_MODE="relay", SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}",
            Q_SYNC="false", Q_WORKERS="2", Q_SCHEDULER="false",
        )  # fmt: skip
        took = outage(people, sink, env, pg.down, pg.up)
    assert took < 20, f"delivery resumed {took:.0f} s after the database came back"


@pytest.mark.skipif(not OwnRedis.available(), reason="needs redis-server")
@pytest.mark.skipif(connection.vendor != "postgresql", reason="Redis is the broker at scale, on PostgreSQL")
def test_mail_accepted_while_the_redis_broker_is_down_goes_out_within_seconds_of_its_return(people):
    """Redis is the cluster's broker and cache (REDIS_URL). It is killed, mail is accepted (its kicks cannot
    reach the broker), and it comes back empty, as a Redis without persistence does: the tasks it held are
    gone, and still every message is delivered, once, within seconds."""
    with SmtpSink() as sink, OwnRedis() as redis:
        env = child_env(
            database_url(), REDIS_URL=redis.url, DELIVERY_MODE="relay",
            SMTP_RELAY_URL=f"smtp://127.0.0.1:{sink.port}", Q_SYNC="false", Q_WORKERS="2",
        )  # fmt: skip
        # This process's broker and cache are that Redis too, as a web process's are: its kick slots are
        # the ones the cluster frees.
        cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url}}
        patches = [
            mock.patch.object(Conf, "ORM", None),
            mock.patch.object(Conf, "REDIS", redis.url),
            override_settings(CACHES=cache),
        ]
        took = outage(people, sink, env, redis.stop, redis.start, patches)
    assert took < 20, f"delivery resumed {took:.0f} s after Redis came back"


@pytest.fixture
def people(db):
    from accounts.services import user_signup

    _user, account, _ = user_signup(email="r@example.com", password=None, account_name="R", actor=SYSTEM)
    domain = verified_domain(account)
    sender = sender_address_create(
        account=account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
    )
    return account, sender
