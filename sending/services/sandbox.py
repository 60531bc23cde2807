"""Every account's sandbox: a sending domain that needs no DNS and whose mail never leaves the machine.

A new account can send from its first minute, from the console, the API and SMTP, before it has published
a single record: `test@sandbox-<random>.directmail.test` sends into the account's Outbox only (the delivery
worker captures it whatever DELIVERY_MODE says), counts in statistics like any mail, and is never checked
or failed. `.test` is reserved (RFC 6761): no such domain can exist on the internet. The sandbox is left
out of limits, of the Overview's first steps and of the DirectMail API's listings (DirectMail has none).
"""

import secrets

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from sending.models import Domain, DomainStatus, SenderAddress, SendType

SANDBOX_PARENT = "directmail.test"
SANDBOX_LOCAL_PART = "test"


def sandbox_name() -> str:
    return f"sandbox-{secrets.token_hex(4)}.{SANDBOX_PARENT}"


@transaction.atomic
def sandbox_create(account: Account) -> Domain:
    """The account's sandbox domain with its `test@` trigger address (called as an account is created)."""
    domain = Domain.objects.alive().filter(account=account, sandbox=True).first()
    if domain is None:
        now = timezone.now()
        domain = Domain.objects.create(
            account=account,
            name=sandbox_name(),
            sandbox=True,
            status=DomainStatus.VERIFIED,
            verified_at=now,
            last_checked_at=now,
        )
    sandbox_sender(account, domain)
    return domain


def sandbox_sender(account: Account, domain: Domain | None = None) -> SenderAddress:
    """The sandbox's `test@` address, made again if someone deleted it."""
    domain = domain or Domain.objects.alive().filter(account=account, sandbox=True).first()
    if domain is None:
        domain = sandbox_create(account)
    address = f"{SANDBOX_LOCAL_PART}@{domain.name}"
    sender = SenderAddress.objects.alive().filter(account=account, address=address).first()
    if sender is None:
        sender = SenderAddress.objects.create(
            account=account, domain=domain, address=address, send_type=SendType.TRIGGER
        )
    return sender
