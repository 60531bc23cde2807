"""Greylisted probes asked again (ValidateEmail with CheckGraylist): the answer comes later, by event.

A server that greylists answers an unknown sender 4xx and takes it on a later try. ValidateEmail with
CheckGraylist true answers such a probe UNKNOWN / GREYLISTED at once and `schedule`s a GraylistCheck;
the per-minute `retry_due` hands each due one to a task of its own (`retry`, claimed by moving its next
attempt ahead, as webhook events are) that probes again, from the same egress address and within the same
provider limits (sending.validation_probe). Still greylisted: again after the next of
VALIDATION_GRAYLIST_RETRY_SECONDS; any other answer, or the last retry, ends the check: its Status and
SubStatus are stored, the quota is settled (a probe's full check, none when it ends UNKNOWN, as FULL
meters) and every listener hears the check (stats turns it into dm:Validator:GrayListResult webhooks).
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from sending import validation, validation_probe
from sending.models import GraylistCheck

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # a claimed retry not finished by then is claimed again
KEEP = timedelta(days=30)

Listener = Callable[[GraylistCheck], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    """Call `listener(check)` in the transaction that ends a check (once per listener)."""
    if all(registered is not listener for registered in _listeners):
        _listeners.append(listener)


def _delays() -> list[int]:
    return [int(seconds) for seconds in settings.VALIDATION_GRAYLIST_RETRY_SECONDS]


def schedule(account, email: str, *, request_id: str, timeout: int) -> GraylistCheck:
    """A greylisted probe of `email`, asked again after the first delay."""
    first = _delays()[0] if _delays() else 0
    return GraylistCheck.objects.create(
        account=account,
        email=email,
        request_id=request_id,
        timeout=timeout,
        next_attempt_at=timezone.now() + timedelta(seconds=first),
    )


def retry_due(limit: int = 200) -> int:
    """Hand every due check to a task of its own, after claiming it; returns how many were handed out.
    Checks that ended KEEP ago are forgotten (their answers went out as events)."""
    now = timezone.now()
    GraylistCheck.objects.filter(state=GraylistCheck.State.DONE, finished_at__lt=now - KEEP).delete()
    due = GraylistCheck.objects.filter(state=GraylistCheck.State.PENDING, next_attempt_at__lte=now)
    claim = now + LEASE
    handed = 0
    for pk, at in due.order_by("next_attempt_at").values_list("pk", "next_attempt_at")[:limit]:
        pending = GraylistCheck.objects.filter(pk=pk, state=GraylistCheck.State.PENDING, next_attempt_at=at)
        if pending.update(next_attempt_at=claim):
            async_task("sending.tasks.graylist_retry", pk, claim, task_name=f"graylist {pk}")
            handed += 1
    return handed


def retry(pk: int, claim) -> GraylistCheck | None:
    """Probe a claimed check again (nothing when the claim is no longer ours); the check as it is after."""
    check = GraylistCheck.objects.filter(
        pk=pk, state=GraylistCheck.State.PENDING, next_attempt_at=claim
    ).first()
    if check is None:
        return None
    result = validation.Validator(check.account_id).validate(check.email)
    if result.status == validation.Status.VALID:
        result = validation_probe.probe(result, timeout=check.timeout)
    check.attempts += 1
    delays = _delays()
    if result.sub_status == validation.SubStatus.GREYLISTED and check.attempts < len(delays):
        check.next_attempt_at = timezone.now() + timedelta(seconds=delays[check.attempts])
        check.save(update_fields=["attempts", "next_attempt_at"])
        return check
    finish(check, result.status, result.sub_status)
    return check


def finish(check: GraylistCheck, status, sub_status) -> None:
    """End a check with its answer: stored, the quota settled, the listeners told (one transaction)."""
    with transaction.atomic():
        ended = GraylistCheck.objects.filter(pk=check.pk, state=GraylistCheck.State.PENDING).update(
            state=GraylistCheck.State.DONE,
            attempts=check.attempts,
            status=str(status),
            sub_status=str(sub_status),
            finished_at=timezone.now(),
        )
        if not ended:
            return  # another task ended it first
        check.refresh_from_db()
        if check.status == validation.Status.UNKNOWN:
            validation.give_back(check.account, validation.FULL_COST)  # FULL meters no UNKNOWN answer
        for listener in _listeners:
            listener(check)
    log.info("greylist check of %s ended %s/%s after %d retries", check.email, status, sub_status,
             check.attempts)  # fmt: skip
