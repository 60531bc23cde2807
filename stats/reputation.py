"""The weekly reputation review: each account's delivery quality over the last 7 days moves its daily quota
one level up or down, within bounds staff set, and the audit log says why.

Rules (settings.REPUTATION): with at least `min_requests` messages in the week, a delivery rate of at least
`up_delivery`, invalid addresses at most `up_invalid`, complaints at most `up_complaint`, and a busiest day
using at least `up_usage` of the quota move it up; a delivery rate under `down_delivery`, or invalid
addresses or complaints over `down_invalid` / `down_complaint`, move it down; anything else keeps it.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.audit import SYSTEM, audit_record
from accounts.models import Account
from stats.models import DailyCounter, ReputationReview

REVIEW_EVERY = timedelta(days=7)


def levels() -> list[int]:
    return sorted(settings.QUOTA_LEVELS)


def bounds(account: Account) -> tuple[int, int]:
    floor = account.quota_floor if account.quota_floor is not None else settings.QUOTA_FLOOR
    ceiling = account.quota_ceiling if account.quota_ceiling is not None else settings.QUOTA_CEILING
    return floor, ceiling


def _step(quota: int, direction: int, floor: int, ceiling: int) -> int:
    allowed = [level for level in levels() if floor <= level <= ceiling]
    if not allowed:
        return quota
    if direction > 0:
        higher = [level for level in allowed if level > quota]
        return higher[0] if higher else quota
    lower = [level for level in allowed if level < quota]
    return lower[-1] if lower else quota


def judge(account: Account, requests: int, delivered: int, invalid: int, complaints: int, busiest: int):
    """(direction -1/0/1, reason) by the rules in the module docstring."""
    rules = settings.REPUTATION
    if requests < rules["min_requests"]:
        return 0, f"too little mail to judge ({requests} messages, {rules['min_requests']} needed)"
    delivery, bad, complained = delivered / requests, invalid / requests, complaints / requests
    if delivery < rules["down_delivery"]:
        return -1, f"delivery rate {delivery:.1%} is under {rules['down_delivery']:.0%}"
    if bad > rules["down_invalid"]:
        return -1, f"invalid-address rate {bad:.1%} is over {rules['down_invalid']:.0%}"
    if complained > rules["down_complaint"]:
        return -1, f"complaint rate {complained:.2%} is over {rules['down_complaint']:.1%}"
    quota = account.limit("daily_quota")
    good = (
        delivery >= rules["up_delivery"]
        and bad <= rules["up_invalid"]
        and complained <= rules["up_complaint"]
    )
    quality = f"delivery rate {delivery:.1%}, invalid {bad:.1%}, complaints {complained:.2%}"
    if good and busiest >= rules["up_usage"] * quota:
        return 1, f"{quality}, busiest day {busiest}"
    if good:
        return (
            0,
            f"good quality, but the busiest day ({busiest}) used under {rules['up_usage']:.0%} of the quota",
        )
    return 0, f"{quality}: neither good enough to raise nor bad enough to lower"


@transaction.atomic
def review(account: Account) -> ReputationReview:
    now = timezone.now()
    today = account.today()
    week = DailyCounter.objects.filter(account=account, day__gt=today - timedelta(days=8), day__lt=today)
    sums = week.aggregate(r=Sum("requests"), d=Sum("delivered"), i=Sum("invalid"), c=Sum("complaints"))
    requests, delivered, invalid, complaints = (sums[k] or 0 for k in ("r", "d", "i", "c"))
    per_day = week.values("day").annotate(n=Sum("requests")).values_list("n", flat=True)
    busiest = max(per_day, default=0)
    direction, reason = judge(account, requests, delivered, invalid, complaints, busiest)
    old = account.limit("daily_quota")
    new = _step(old, direction, *bounds(account)) if direction else old
    move = (
        ReputationReview.Move.UP
        if new > old
        else ReputationReview.Move.DOWN
        if new < old
        else ReputationReview.Move.STAY
    )
    if new != old:
        Account.objects.filter(pk=account.pk).update(daily_quota=new)
    entry = ReputationReview.objects.create(
        account=account, at=now, requests=requests,
        delivery_rate=delivered / requests if requests else None,
        invalid_rate=invalid / requests if requests else None,
        complaint_rate=complaints / requests if requests else None,
        old_quota=old, new_quota=new, move=move, reason=reason[:255],
    )  # fmt: skip
    audit_record(
        actor=SYSTEM, action="account.quota_review", account=account,
        details={"from": old, "to": new, "reason": reason},
    )  # fmt: skip
    return entry


def review_all() -> dict[str, int]:
    """The weekly schedule: every account once."""
    moves = {"up": 0, "down": 0, "stay": 0}
    for account in Account.objects.all():
        moves[review(account).move] += 1
    return moves


def next_review(account: Account):
    last = account.reputation_reviews.first()
    return (last.at if last else account.created_at) + REVIEW_EVERY
