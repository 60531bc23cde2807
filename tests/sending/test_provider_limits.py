"""Limits per provider x egress address: where each value comes from (shipped < env < Django admin), how a
lowering rule scales them, and the shared connection slots and minute / hour / day budgets that hold them
across workers."""

from datetime import timedelta

import pytest
from django.core import checks
from django.test import override_settings
from django.utils import timezone

from sending import provider_limits
from sending.models import ProviderLimit, ShapingCounter, ShapingSlot
from sending.provider_limits import DEFAULTS, Budget, Limits, limits_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    provider_limits.clear_cache()
    yield
    provider_limits.clear_cache()


def test_every_provider_of_the_list_has_shipped_limits():
    from sending.providers import PROVIDERS

    assert {p.name for p in PROVIDERS} <= set(DEFAULTS)
    gmail = limits_for("gmail")
    assert (gmail.connections, gmail.per_connection, gmail.per_second) == (10, 100, 25)
    other = limits_for("other:hoster.example")  # any other provider: "*"
    assert (other.connections, other.per_connection, other.per_second) == (10, 100, 20)
    assert limits_for("qq").per_minute == 200


@override_settings(
    DELIVERY_PROVIDER_LIMITS={
        "*": {"per_day": 100000},
        "gmail": {"connections": 3, "per_hour": 5000},
        "gmail@203.0.113.5": {"per_minute": 7},
    }
)
def test_env_then_admin_rows_override_the_shipped_limits_last_wins():
    assert limits_for("gmail").connections == 3
    assert limits_for("gmail").per_day == 100000 and limits_for("yahoo").per_day == 100000
    assert limits_for("gmail", "203.0.113.5").per_minute == 7
    assert limits_for("gmail", "203.0.113.9").per_minute == 0  # the address entry is that address's only

    ProviderLimit.objects.create(provider="*", per_day=50000)
    ProviderLimit.objects.create(provider="gmail", connections=4, per_connection=None)
    ProviderLimit.objects.create(provider="gmail", egress_ip="203.0.113.5", per_minute=2, note="warming")
    provider_limits.clear_cache()
    at_five = limits_for("gmail", "203.0.113.5")
    assert (at_five.connections, at_five.per_connection, at_five.per_minute) == (4, 100, 2)  # blank: kept
    assert at_five.per_hour == 5000 and at_five.per_day == 50000
    assert limits_for("gmail", "203.0.113.9").per_minute == 0


def test_a_lowered_rate_scales_every_limit():
    limits = Limits(connections=10, per_connection=100, per_second=20, per_minute=600, per_day=1)
    half = limits.scaled(0.5)
    assert (half.connections, half.per_second, half.per_minute, half.per_day) == (5, 10, 300, 1)
    assert half.per_connection == 100 and half.fraction == 0.5
    assert half.pace == 2  # per session: the provider's rate shared by its connections
    assert limits.scaled(1) is limits
    assert Limits().pace == 0


@override_settings(DELIVERY_PROVIDER_LIMITS={"gmail": {"connections": "many", "speed": 3}, "qq": 5})
def test_a_bad_setting_is_a_system_check_error():
    found = provider_limits.check_settings()
    assert {e.id for e in found} == {"sending.E010"} and all(isinstance(e, checks.Error) for e in found)
    text = " ".join(e.msg for e in found)
    assert (
        "gmail.connections" in text and "unknown limit 'speed'" in text and "qq: expected an object" in text
    )


def test_connection_slots_are_shared_and_a_dead_sessions_slot_comes_back():
    two = Limits(connections=2)
    assert provider_limits.take_slot("gmail", "203.0.113.5", two, "worker-1")
    assert provider_limits.take_slot("gmail", "203.0.113.5", two, "worker-2")
    assert not provider_limits.take_slot("gmail", "203.0.113.5", two, "worker-3")
    assert provider_limits.take_slot("gmail", "203.0.113.6", two, "worker-3")  # another address
    assert provider_limits.sessions_open("gmail") == {"203.0.113.5": 2, "203.0.113.6": 1}
    provider_limits.release_slots("worker-1")
    assert provider_limits.take_slot("gmail", "203.0.113.5", two, "worker-3")
    # worker-2 stops renewing (it died): its slot is free again once its time has passed.
    ShapingSlot.objects.filter(owner="worker-2").update(alive_until=timezone.now() - timedelta(seconds=1))
    assert provider_limits.take_slot("gmail", "203.0.113.5", two, "worker-4")
    assert provider_limits.take_slot("gmail", "203.0.113.5", Limits(), "anyone")  # no limit: always


def test_minute_budgets_are_shared_and_say_when_the_window_ends():
    clock = [1_800_000_030.0]  # 30 s into a minute
    limits = Limits(per_minute=5, per_hour=100)
    first, second = Budget("qq", "", limits), Budget("qq", "", limits)
    granted = [first.take(3, clock=lambda: clock[0]) for _ in range(3)]
    assert granted == [None, None, None]
    assert [second.take(10, clock=lambda: clock[0]) for _ in range(2)] == [None, None]
    ends = second.take(10, clock=lambda: clock[0])
    assert ends is not None and ends.timestamp() == 1_800_000_060  # the minute's end
    assert provider_limits.used("qq", "", limits, clock=lambda: clock[0]) == {"minute": 5, "hour": 5}

    clock[0] += 60  # the next minute
    third = Budget("qq", "", limits)
    assert third.take(10, clock=lambda: clock[0]) is None
    third.give_back()  # took a chunk of 5, sent 1
    assert provider_limits.used("qq", "", limits, clock=lambda: clock[0]) == {"minute": 1, "hour": 6}


def test_old_counters_are_pruned():
    ShapingCounter.objects.create(provider="qq", unit="minute", window=1, count=3)
    ShapingCounter.objects.create(provider="qq", unit="day", window=10**6, count=3)
    assert provider_limits.prune() == 1
    assert ShapingCounter.objects.get().unit == "day"
