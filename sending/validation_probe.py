"""The SMTP probe of address validation (ValidateEmail with ProbeType FULL): ask the domain's mail server
whether it takes the address, without sending anything.

From the egress address chosen for probes (VALIDATION_PROBE_EGRESS, one of this host's; else the system's),
within the provider's connection limits (sending.provider_limits: a probe holds one of the provider x
address's slots like a delivery session): EHLO, MAIL FROM our probe address, RCPT TO the address, RCPT TO
a random local part of the same domain (a server that takes both takes everything: CATCHALL), RSET,
QUIT. DATA is never sent. Providers that accept every recipient at RCPT or forbid probing
(VALIDATION_NO_PROBE_PROVIDERS) are never asked: UNKNOWN.
"""

import secrets
import smtplib
import time
import uuid
from contextlib import suppress

from django.conf import settings

from sending import bounce_categories, egress, netguard, provider_limits, providers
from sending.delivery.transports import MxTransport, TransportError, helo_name
from sending.models import EgressAddress
from sending.validation import Result, Status, SubStatus

SLOT_WAIT = 5.0  # seconds a probe waits for a free connection slot of the provider


def _source() -> egress.Source | None:
    wanted = settings.VALIDATION_PROBE_EGRESS
    if not wanted:
        return None
    entry = EgressAddress.objects.filter(host=settings.EGRESS_HOST, address=wanted, bind_error="").first()
    return egress.Source(entry.address, entry.helo) if entry else None


def _answer(code: int, text: str) -> tuple[Status, SubStatus] | None:
    """What a refusal of the real address says (None: it was taken)."""
    if code in (250, 251):
        return None
    if code >= 500 and ("5.2.1" in text or "disabled" in text.lower()):
        return Status.INVALID, SubStatus.DISABLED  # X.2.1: mailbox disabled (RFC 3463)
    category = bounce_categories.categorize(code, text)
    if category == bounce_categories.Category.MAILBOX_FULL:
        return Status.INVALID, SubStatus.MAILBOX_FULL
    if code >= 500 and category == bounce_categories.Category.BAD_MAILBOX:
        return Status.INVALID, SubStatus.MAILBOX_NOT_EXISTS
    if 400 <= code < 500:
        return Status.UNKNOWN, SubStatus.GREYLISTED
    return Status.UNKNOWN, SubStatus.UNSPECIFIED  # a policy or reputation refusal says nothing of the mailbox


def probe(result: Result, timeout: float | None = None) -> Result:
    """Probe `result`'s address (already VALID by the basic checks) and set its status from the answer."""
    domain = result.domain_part
    provider = providers.provider_of(domain)
    if provider in settings.VALIDATION_NO_PROBE_PROVIDERS:
        result.status, result.sub_status = Status.UNKNOWN, SubStatus.UNSPECIFIED
        return result
    source = _source()
    limits = provider_limits.limits_for(provider, source.address if source else "")
    owner = f"probe-{uuid.uuid4().hex[:12]}"
    deadline = time.monotonic() + SLOT_WAIT
    while not provider_limits.take_slot(provider, source.address if source else "", limits, owner):
        if time.monotonic() > deadline:
            result.status, result.sub_status = Status.UNKNOWN, SubStatus.SYSTEM_ERROR
            return result
        time.sleep(0.2)
    try:
        answer = _ask(
            domain, result.email, source, min(timeout or settings.SMTP_TIMEOUT, settings.SMTP_TIMEOUT)
        )
    finally:
        provider_limits.release_slots(owner)
    result.status, result.sub_status = answer
    return result


def _ask(domain: str, address: str, source: egress.Source | None, timeout: float) -> tuple[Status, SubStatus]:
    try:
        hosts, _secure = MxTransport.mx_hosts(domain)
    except TransportError:
        return Status.INVALID, SubStatus.NO_DNS_ENTRIES
    for host in hosts:
        try:
            addresses = MxTransport.addresses(host)
        except TransportError:
            continue
        for ip in addresses:
            if not netguard.deliverable_address(ip) or (source and not source.reaches(ip)):
                continue
            try:
                return _conversation(ip, domain, address, source, timeout)
            except (OSError, smtplib.SMTPException):
                continue
    return Status.UNKNOWN, SubStatus.SMTP_CONNECT_FAILED


def _conversation(
    ip: str, domain: str, address: str, source: egress.Source | None, timeout: float
) -> tuple[Status, SubStatus]:
    helo = source.helo if source else helo_name()
    bind = (source.address, 0) if source else None
    smtp = smtplib.SMTP(ip, settings.MX_PORT, local_hostname=helo, timeout=timeout,
                        source_address=bind)  # fmt: skip
    try:
        smtp.ehlo()
        code, reply = smtp.mail(settings.VALIDATION_PROBE_FROM or f"postmaster@{helo}")
        if code != 250:
            return Status.UNKNOWN, SubStatus.UNSPECIFIED
        code, reply = smtp.rcpt(address)
        refused = _answer(code, reply.decode("utf-8", "replace"))
        if refused is not None:
            return refused
        random_code, _reply = smtp.rcpt(f"dm-probe-{secrets.token_hex(6)}@{domain}")
        return (Status.CATCHALL, SubStatus.UNSPECIFIED) if random_code in (250, 251) else (
            Status.VALID, SubStatus.UNSPECIFIED)  # fmt: skip
    finally:
        with suppress(OSError, smtplib.SMTPException):
            smtp.rset()
            smtp.quit()
        smtp.close()
