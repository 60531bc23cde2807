"""What the SMTP server does with each command: AUTH against sender addresses, DirectMail's sending rules,
the durable accept, and bounce intake. aiosmtpd calls these hooks on its event loop; anything that touches
the database runs in the server's thread pool (`run_db`), so one slow query never stalls other sessions.

An authenticated session submits mail from its sender address to anyone. A session without AUTH may only
hand in what comes back: RCPT is accepted for our signed VERP return paths (bounces, and the feedback
reports some providers send there), List-Unsubscribe mailto addresses, and the feedback-loop and report
addresses of each sending domain (fbl@<domain>, dmarc-reports@<domain>, tls-reports@<domain>), and nothing
else, so the server is never an open relay.
"""

import binascii
import functools
import logging
import secrets
from base64 import b64decode
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError

from accounts.network import ip_allowed
from accounts.throttle import Scope, attempt_give_back, attempt_take
from directmail.metrics import SMTP_MESSAGES
from sending import complaints, reports, unsubscribe
from sending.delivery.bounces import apply_dsn
from sending.delivery.worker import message_from_return_path
from sending.models import Domain, SenderAddress
from sending.services import messages as service
from sending.smtp import controls, store

log = logging.getLogger(__name__)

RunDb = Callable[..., Awaitable]
TEMPORARY_FAILURE = "451 4.3.0 Temporary failure, please try again later"
AUTH_FAILED = (
    "535 5.7.8 Authentication failed: the user name is a sender address, the password its SMTP password"
)


@dataclass(frozen=True)
class Login:
    """Who authenticated: a sender address (ids only; the database is read again for each message)."""

    sender_id: int
    account_id: int
    address: str


def _peer_ip(session: Session) -> str:
    return session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)


@functools.cache
def _unknown_user_hash() -> str:
    return make_password(secrets.token_hex(16))


def _check_login(address: str, password: str, ip: str) -> Login | str:
    """A Login, or the SMTP reply that refuses it. Runs in a database thread (the hash check is slow)."""
    sender = (
        SenderAddress.objects.alive()
        .select_related("account", "domain")
        .filter(address=address.strip().lower())
        .first()
    )
    hashes = [sender.smtp_password, sender.domain.smtp_password] if sender is not None else []
    hashes = [h for h in hashes if h]  # its own password, and its domain's (ModifyPWByDomain)
    if not hashes:
        check_password(password, _unknown_user_hash())  # as slow as a real check: no hint who exists
        return AUTH_FAILED
    if not any(check_password(password, h) for h in hashes):
        return AUTH_FAILED
    assert sender is not None
    if not ip_allowed(sender.account, ip):
        return f"535 5.7.1 Authentication failed: {ip} is not on this account's IP protection list"
    if not sender.domain.can_send:
        return f"535 5.7.1 Authentication failed: {sender.domain.name} is not verified"
    return Login(sender.pk, sender.account_id, sender.address)


def _login(address: str, password: str, ip: str) -> Login | str:
    """_check_login, counting attempts per client IP (accounts.throttle): an address with too many recent
    failures is refused before its password is even looked at (other addresses are not affected)."""
    scope = Scope(f"smtp-ip:{ip}", settings.SMTPD_AUTH_FAILURES_PER_IP, settings.SMTPD_AUTH_FAILURE_WINDOW)
    if not attempt_take(scope):
        return "421 4.7.0 Too many failed logins from your address; try again later"
    result = _check_login(address, password, ip)
    if isinstance(result, Login):
        attempt_give_back(scope)
    return result


def _is_bounce_address(address: str) -> bool:
    """One of our signed VERP return paths, at the domain of the message it names."""
    local, _at, domain = address.rpartition("@")
    if not local.lower().startswith("bounce+"):
        return False
    message = message_from_return_path(local)
    return message is not None and message.envelope.sender.domain.name == domain.lower()


def _unsubscribe_message(address: str):
    """The message an `unsubscribe+<token>@<its domain>` address (its List-Unsubscribe mailto) names."""
    local, _at, domain = address.rpartition("@")
    if not local.lower().startswith("unsubscribe+"):
        return None
    message = unsubscribe.message_for(local.partition("+")[2])
    if message is None or message.envelope.sender.domain.name != domain.lower():
        return None
    return message


def _our_address(address: str) -> str:
    """ "feedback" for fbl@<a sending domain of ours> (FEEDBACK_LOCAL_PART), where feedback loops send
    complaints; "report" for dmarc-reports@<domain> (DMARC_REPORT_LOCAL_PART), the DMARC record's rua, and
    tls-reports@<domain> (TLSRPT_LOCAL_PART), the TLS-RPT record's; "" for anything else."""
    local, _at, domain = address.rpartition("@")
    kinds = {
        settings.FEEDBACK_LOCAL_PART.lower(): "feedback",
        settings.DMARC_REPORT_LOCAL_PART.lower(): "report",
        settings.TLSRPT_LOCAL_PART.lower(): "report",
    }
    kind = kinds.get(local.lower(), "")
    return kind if kind and Domain.objects.alive().filter(name=domain.lower()).exists() else ""


def _accepts_without_auth(address: str) -> bool:
    return bool(_is_bounce_address(address) or _our_address(address) or _unsubscribe_message(address))


def _receive(content: bytes, rcpts: list[str]) -> None:
    """Apply what came back: an unsubscribe per mailto address, a DMARC report, then the message once as a
    feedback report (at a feedback address, or at a return path when it is one) or a DSN."""
    feedback, bounces, report_to = [], [], []
    for rcpt in rcpts:
        message = _unsubscribe_message(rcpt)
        if message is not None:
            unsubscribe.unsubscribe(message, how="mail")
        elif rcpt.lower().startswith("bounce+"):
            bounces.append(rcpt)
        elif _our_address(rcpt) == "report":
            report_to.append(rcpt)
        else:
            feedback.append(rcpt)
    if report_to:
        result = reports.apply_report(content, envelope_to=report_to[0])
        for line in result.applied + result.ignored:
            log.info("report to %s: %s", report_to[0], line)
    if feedback or (bounces and complaints.is_feedback_report(content)):
        complaints.apply_feedback(content, envelope_to=(bounces or feedback)[0])
    elif bounces:
        apply_dsn(content, envelope_to=bounces[0])


def _is_suppressed(login: "Login", address: str) -> bool:
    """Refused at RCPT: what stops mail at every unsubscribe filter level (bounces, complaints, entries
    made by hand). Unsubscribes depend on the level the message's X-AliDM-Settings gives, read at DATA."""
    return bool(service.suppressed_among(login.account_id, [address], login.address, "disabled"))


class Handler:
    """aiosmtpd handler hooks (see the module docstring). `run_db` runs a function in a database thread."""

    def __init__(self, run_db: RunDb, hostname: str):
        self.run_db, self.hostname = run_db, hostname
        self.committer = store.GroupCommitter(run_db)

    async def handle_exception(self, error: Exception) -> str:
        """Any failure of ours in a command (the database or the cache out of reach, a bug) is temporary for
        the client, in one line that shows nothing of the cause (aiosmtpd's default is a permanent 500 with
        the exception's text, whose line breaks desynchronize the client's replies)."""
        log.error("SMTP command failed: %s", type(error).__name__, exc_info=error)
        SMTP_MESSAGES.labels("temporary_failure").inc()
        return TEMPORARY_FAILURE

    # -- AUTH

    async def handle_AUTH(self, server: SMTP, session: Session, envelope: Envelope, args: list[str]):
        credentials = await self._credentials(server, args)
        if credentials is None:
            return None  # the exchange was aborted and answered
        login = await self.run_db(_login, *credentials, _peer_ip(session))
        if isinstance(login, Login):
            session.authenticated, session.auth_data = True, login  # type: ignore[assignment]
            return "235 2.7.0 Authentication successful"
        if login.startswith("421"):
            return await self._close(server, login)
        failures = getattr(session, "auth_failures", 0) + 1
        session.auth_failures = failures  # type: ignore[attr-defined]  # ours, on aiosmtpd's session
        if failures >= settings.SMTPD_AUTH_FAILURES_PER_CONNECTION:
            await server.push(login)
            return await self._close(server, "421 4.7.0 Too many failed logins; closing the connection")
        return login

    async def _credentials(self, server: SMTP, args: list[str]) -> tuple[str, str] | None:
        """(user, password) from AUTH PLAIN or LOGIN, asking for what the command line left out."""
        mechanism, initial = args[0].upper(), (args[1] if len(args) > 1 else None)
        if mechanism == "PLAIN":
            blob = await self._decoded(server, initial, "")
            if blob is None:
                return None
            parts = blob.split(b"\0")
            if len(parts) != 3:
                await server.push("501 5.5.2 Can't split auth value")
                return None
            user, password = parts[1], parts[2]
        elif mechanism == "LOGIN":
            asked = await self._decoded(server, initial, "VXNlcm5hbWU6")  # "Username:"
            if asked is None:
                return None
            user = asked
            asked = await self._decoded(server, None, "UGFzc3dvcmQ6")  # "Password:"
            if asked is None:
                return None
            password = asked
        else:
            await server.push("504 5.5.4 Unrecognized authentication type")
            return None
        return user.decode("utf-8", errors="replace"), password.decode("utf-8", errors="replace")

    async def _decoded(self, server: SMTP, initial: str | None, prompt: str) -> bytes | None:
        if initial is not None and initial != "=":
            try:
                return b64decode(initial, validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Can't decode base64")
                return None
        if initial == "=":
            return b""
        value = await server.challenge_auth(prompt, encode_to_b64=False)
        return None if value is MISSING else value

    async def _close(self, server: SMTP, reply: str) -> None:
        await server.push(reply)
        if server.transport is not None:
            server.transport.close()
        return None

    # -- the envelope

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str, options):
        login: Login | None = session.auth_data if session.authenticated else None
        if login is not None and address.lower() != login.address:
            return (
                f"553 5.7.1 MAIL FROM doesn't conform with authentication (Auth Account:{login.address}|"
                f"Mail Account:{address})"
            )
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options):
        login: Login | None = session.auth_data if session.authenticated else None
        if login is None:
            if await self.run_db(_accepts_without_auth, address):
                envelope.rcpt_tos.append(address)
                return "250 2.1.5 OK"
            return "550 5.7.1 Relaying denied: authenticate with a sender address to send mail"
        if len(envelope.rcpt_tos) >= settings.SMTPD_MAX_RECIPIENTS:
            return f"452 4.5.3 Too many recipients: at most {settings.SMTPD_MAX_RECIPIENTS} per message"
        local, _at, domain = address.rpartition("@")
        try:
            if not local or domain.startswith("[") or address.startswith("@"):
                raise ValidationError("address literal or source route")
            service.parse_recipients(address)
        except (ValidationError, service.EnqueueError):
            return f"550 5.1.3 Bad recipient address: {address}"
        if await self.run_db(_is_suppressed, login, address):
            return f"550 5.1.1 {address} is on this account's suppression list (it bounced or complained)"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    # -- the message

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope):
        login: Login | None = session.auth_data if session.authenticated else None
        if login is None:
            return await self._bounce(envelope)
        return await self._submit(server, session, envelope, login)

    async def _bounce(self, envelope: Envelope) -> str:
        """Mail without AUTH: to our VERP return paths (a bounce or a feedback report), feedback addresses or
        List-Unsubscribe mailto addresses."""
        try:
            await self.run_db(_receive, envelope.original_content, list(envelope.rcpt_tos))
        except Exception:  # like a submission: temporary, and never the exception's text
            log.exception("could not apply a bounce, a feedback report or an unsubscribe")
            SMTP_MESSAGES.labels("temporary_failure").inc()
            return TEMPORARY_FAILURE
        SMTP_MESSAGES.labels("bounce_or_unsubscribe").inc()
        return "250 2.0.0 OK: received"

    async def _submit(self, server: SMTP, session: Session, envelope: Envelope, login: Login) -> str:
        queue_id = secrets.token_hex(8)
        transport = server.transport
        tls = session.ssl is not None or (
            transport is not None and transport.get_extra_info("ssl_object") is not None
        )
        received = controls.received_header(
            helo=session.host_name or "",
            ip=_peer_ip(session),
            hostname=self.hostname,
            protocol="ESMTPSA" if tls else "ESMTPA",
            queue_id=queue_id,
        )
        try:
            submission = controls.read_submission(
                envelope.original_content or b"",
                sender=login.address,
                received=received,
                hostname=self.hostname,
            )
        except controls.Refused as refused:
            SMTP_MESSAGES.labels("refused").inc()
            return refused.reply
        item = store.Item(login, list(envelope.rcpt_tos), submission, _peer_ip(session))
        try:
            env_id = await self.committer.store(item)
        except controls.Refused as refused:
            SMTP_MESSAGES.labels("refused").inc()
            return refused.reply
        except Exception:  # a store failure must never look permanent, nor show its cause
            log.exception("could not store a message from %s", login.address)
            SMTP_MESSAGES.labels("temporary_failure").inc()
            return TEMPORARY_FAILURE
        SMTP_MESSAGES.labels("accepted").inc()
        return f"250 Data Ok: queued as {queue_id} ###envid={env_id}"  # as DirectMail words it
