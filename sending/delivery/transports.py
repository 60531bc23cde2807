"""Transports: how a signed message leaves. One small interface, chosen by settings.DELIVERY_MODE.

    capture  keep the message in the local Outbox and call it delivered (the embedded default)
    relay    hand everything to one smarthost (SMTP_RELAY_URL: smtp://user:pass@host:587 or smtps://...)
    mx       look up the recipient domain's MX with our resolver and talk to it directly (port MX_PORT)

A transport opens a session per destination domain; the worker sends that domain's messages through it, so
one SMTP connection carries many messages. Failures are TransportError with a `permanent` flag; `invalid`
marks a bad mailbox or a domain that does not exist, which puts the address on the suppression list.
"""

import errno
import ipaddress
import smtplib
import socket
import ssl
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings

from sending import bounce_categories, dns, egress, netguard, tls_policy
from sending.models import CapturedMessage, Message
from sending.tls_policy import HostPolicy, PolicyFailure


@dataclass(frozen=True)
class Tls:
    """A session's TLS: its version and cipher ("" without TLS), whether the certificate was verified, and
    the policy it was held to (sending.tls_policy; "" without TLS)."""

    version: str = ""
    cipher: str = ""
    verified: bool = False
    policy: str = ""


NO_TLS = Tls()


@dataclass(frozen=True)
class Result:
    code: int
    text: str
    mx_host: str = ""
    source: str = ""  # the egress address it left from ("" when the system picked)
    tls: Tls = NO_TLS


class TransportError(Exception):
    def __init__(
        self,
        text: str,
        *,
        code: int | None = None,
        permanent: bool = False,
        invalid: bool = False,
        mx_host: str = "",
        hold: bool = False,
    ):
        super().__init__(text)
        # Ours to fix, not the recipient's (no egress address of this host can be bound): the mail waits
        # without it costing an attempt.
        self.hold = hold
        self.text, self.code, self.permanent, self.invalid, self.mx_host = (
            text,
            code,
            permanent,
            invalid,
            mx_host,
        )
        self.source = ""  # the egress address of the session that got it (SmtpSession.send sets it)
        self.tls = NO_TLS  # the TLS of that session

    @property
    def category(self) -> str:
        """Why (sending.bounce_categories)."""
        return bounce_categories.categorize(self.code, self.text)

    @classmethod
    def from_reply(cls, code: int, reply: bytes | str, mx_host: str) -> "TransportError":
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        permanent = code >= 500
        # Only a permanent refusal for a recipient-caused reason (bad mailbox, bad domain) makes the address
        # invalid: a blocklist or policy refusal says nothing about it.
        category = bounce_categories.categorize(code, text)
        invalid = bounce_categories.invalid(category, permanent)
        return cls(f"{code} {text}", code=code, permanent=permanent, invalid=invalid, mx_host=mx_host)


class Session:
    """A connection to one destination: `send` hands over one message or raises TransportError."""

    def send(self, message: Message, mail_from: str, raw: bytes) -> Result:
        raise NotImplementedError


class Transport:
    """Opens a Session per destination domain, as a context manager: `with transport.session(domain) as s`.
    `sources`: the egress addresses (sending.egress) to send from in mx mode, tried in order; None: the
    system picks."""

    def session(self, domain: str, sources: list[egress.Source] | None = None):
        raise NotImplementedError


# --- capture -------------------------------------------------------------------------------------------


class CaptureSession(Session):
    def send(self, message: Message, mail_from: str, raw: bytes) -> Result:
        CapturedMessage.objects.update_or_create(
            message=message, defaults={"account_id": message.account_id, "mail_from": mail_from, "raw": raw}
        )
        return Result(250, "2.0.0 captured in the outbox", "outbox")


class CaptureTransport(Transport):
    @contextmanager
    def session(self, domain: str, sources: list[egress.Source] | None = None):
        yield CaptureSession()


# --- SMTP (relay and mx) ---------------------------------------------------------------------------------


def helo_name() -> str:
    return settings.SMTP_HELO_NAME or socket.getfqdn()


class SmtpSession(Session):
    """One SMTP connection; a message that fails leaves the connection usable (RSET) unless it dropped."""

    def __init__(self, smtp: smtplib.SMTP, host: str, source: str = "", tls: Tls = NO_TLS):
        self.smtp, self.host, self.source, self.tls = smtp, host, source, tls

    def send(self, message: Message, mail_from: str, raw: bytes) -> Result:
        try:
            return self._send(message, mail_from, raw)
        except TransportError as exc:
            exc.source, exc.tls = self.source, self.tls  # the attempt records where it left from, and how
            raise

    def _send(self, message: Message, mail_from: str, raw: bytes) -> Result:
        utf8 = not message.rcpt.isascii()
        if utf8 and not self.smtp.has_extn("smtputf8"):
            raise TransportError(
                f"5.6.7 {self.host} does not accept SMTPUTF8, which {message.rcpt} needs",
                code=553,
                permanent=True,
                mx_host=self.host,
            )
        self.smtp.command_encoding = "utf-8" if utf8 else "ascii"
        try:
            code, reply = self.smtp.mail(mail_from, ["SMTPUTF8"] if utf8 else [])
            if code != 250:
                raise self._refused(code, reply)
            code, reply = self.smtp.rcpt(message.rcpt)
            if code not in (250, 251):
                raise self._refused(code, reply)
            # smtplib.data() turns bare CR and LF into CRLF and dot-stuffs: nothing else leaves. A receiver
            # may take long to answer the end of the message; giving up early would send it twice.
            if self.smtp.sock is not None:  # connected, as every session is
                self.smtp.sock.settimeout(min(settings.SMTP_DATA_TIMEOUT, settings.DELIVERY_LEASE / 2))
            try:
                code, reply = self.smtp.data(raw)
            finally:
                if self.smtp.sock is not None:
                    self.smtp.sock.settimeout(settings.SMTP_TIMEOUT)
            if code != 250:
                raise TransportError.from_reply(code, reply, self.host)
            return Result(code, reply.decode("utf-8", "replace"), self.host, self.source, self.tls)
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"connection to {self.host} lost: {exc}", mx_host=self.host) from exc

    def _refused(self, code: int, reply: bytes) -> TransportError:
        with suppress(smtplib.SMTPException, OSError):
            self.smtp.rset()
        return TransportError.from_reply(code, reply, self.host)

    def close(self) -> None:
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()


def _connection_error(
    exc: Exception, host: str, address: str, port: int, source: egress.Source | None
) -> Exception:
    """What a failure to open a session is: the receiver's refusal, an egress address this machine cannot
    bind (EgressUnavailable), or trouble reaching it (a deferral)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return TransportError.from_reply(exc.smtp_code, exc.smtp_error, host)
    if isinstance(exc, OSError) and source is not None and exc.errno in (errno.EADDRNOTAVAIL, errno.EINVAL):
        return EgressUnavailable(source, str(exc))
    return TransportError(f"cannot talk to {host} ({address}:{port}): {exc}", mx_host=host)


def _connect(
    host: str,
    address: str,
    port: int,
    *,
    implicit_tls: bool,
    starttls: str,
    username: str = "",
    password: str = "",
    verify: bool = True,
    source: egress.Source | None = None,
) -> SmtpSession:
    """starttls: "opportunistic" (use it when offered, no certificate check), "required" or "never".
    `source`: the egress address to bind and the name to greet with (else the system's and helo_name()).
    An address that cannot be bound raises EgressUnavailable."""
    timeout = settings.SMTP_TIMEOUT
    helo = source.helo if source else helo_name()
    bind = (source.address, 0) if source else None
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        smtp: smtplib.SMTP
        if implicit_tls:
            smtp = smtplib.SMTP_SSL(
                address, port, local_hostname=helo, timeout=timeout, context=context, source_address=bind
            )
        else:
            smtp = smtplib.SMTP(address, port, local_hostname=helo, timeout=timeout, source_address=bind)
        smtp.ehlo()
        if not implicit_tls and starttls != "never":
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            elif starttls == "required":
                smtp.close()
                raise TransportError(f"{host} does not offer STARTTLS", mx_host=host)
        if username:
            smtp.login(username, password)
    except smtplib.SMTPAuthenticationError as exc:
        raise TransportError(
            f"{host} refused our login: {exc.smtp_code}", code=exc.smtp_code, mx_host=host
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise _connection_error(exc, host, address, port, source) from exc
    return SmtpSession(smtp, host, source.address if source else "")


def _connect_mx(
    domain: str, policy: HostPolicy, address: str, source: egress.Source | None, *, verify: bool = True
) -> SmtpSession:
    """A session to an MX held to its TLS policy (sending.tls_policy): DANE and enforced MTA-STS need
    STARTTLS and a certificate that passes, else the mail waits (4.7.5, counted for TLS-RPT); MTA-STS in
    testing mode only counts a failure and goes on without the check (`verify` False); opportunistic TLS
    checks nothing. An address that cannot be bound raises EgressUnavailable."""
    host, sending_ip, port = policy.host, source.address if source else "", settings.MX_PORT
    helo = source.helo if source else helo_name()
    bind = (source.address, 0) if source else None

    def count(result: str, detail: str = "") -> None:
        tls_policy.record(domain, policy, result, sending_ip=sending_ip, receiving_ip=address, detail=detail)

    def refused(result: str, text: str) -> TransportError:
        count(result, text)
        return TransportError(f"4.7.5 {text}", mx_host=host)

    try:
        smtp = smtplib.SMTP(address, port, local_hostname=helo, timeout=settings.SMTP_TIMEOUT,
                            source_address=bind)  # fmt: skip
        # STARTTLS names the MX, not the address we reached it at: SNI and the certificate check need the
        # name (smtplib takes the name it connected to, which is the address here).
        smtp._host = host  # type: ignore[attr-defined]
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            if policy.requires_tls:
                smtp.close()
                text = f"{host} does not offer STARTTLS, which {policy.kind} requires for {domain}"
                raise refused("starttls-not-supported", text)
            if verify:
                count("starttls-not-supported")
            return SmtpSession(smtp, host, sending_ip)
        try:
            smtp.starttls(context=tls_policy.context(policy, verify=verify))
        except ssl.SSLCertVerificationError as exc:
            smtp.close()
            text = f"MTA-STS of {domain}: the certificate of {host} is not valid: {exc.verify_message}"
            if policy.kind != tls_policy.STS_TESTING:
                raise refused(tls_policy.failure_of(exc), text) from exc
            count(tls_policy.failure_of(exc), text)  # testing: recorded, and the mail goes on
            return _connect_mx(domain, policy, address, source, verify=False)
        smtp.ehlo()
        sock = smtp.sock
        assert isinstance(sock, ssl.SSLSocket)
        verified = verify and policy.verifies_name
        if policy.kind == tls_policy.DANE:
            try:
                verified = tls_policy.check_dane(policy, tls_policy.peer_chain(sock))
            except PolicyFailure as failure:
                smtp.close()
                raise refused(failure.result, f"DANE of {host}: {failure.text}") from failure
        if verify:
            count("success")
        cipher = sock.cipher()
        tls = Tls(sock.version() or "", cipher[0] if cipher else "", verified, policy.kind)
    except (smtplib.SMTPException, OSError) as exc:
        raise _connection_error(exc, host, address, port, source) from exc
    return SmtpSession(smtp, host, sending_ip, tls)


class EgressUnavailable(Exception):
    """The egress address cannot be bound on this machine: the operator's to fix, not the recipient's."""

    def __init__(self, source: egress.Source, error: str):
        super().__init__(error)
        self.source, self.error = source, error


class RelayTransport(Transport):
    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_RELAY_URL must look like smtp://user:pass@host:587 or smtps://host:465")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username or "")
        self.password = unquote(parts.password or "")

    @contextmanager
    def session(self, domain: str, sources: list[egress.Source] | None = None):
        # Credentials never cross the network in clear: STARTTLS is required when there are any.
        session = _connect(
            self.host,
            self.host,
            self.port,
            implicit_tls=self.implicit_tls,
            starttls="required" if self.username else "opportunistic",
            username=self.username,
            password=self.password,
            verify=settings.SMTP_RELAY_VERIFY_TLS,
        )
        try:
            yield session
        finally:
            session.close()


class MxTransport(Transport):
    @contextmanager
    def session(self, domain: str, sources: list[egress.Source] | None = None):
        errors: list[str] = []
        internal: list[str] = []
        holds: list[str] = []
        policy = tls_policy.for_domain(domain)
        if policy.fetch_error is not None:
            failure = policy.fetch_error
            tls_policy.record(domain, HostPolicy(tls_policy.STS, ""), failure.result, detail=failure.text)
        hosts, secure = self.mx_hosts(domain)
        allowed = policy.allowed(hosts)
        if not allowed:
            text = f"MTA-STS of {domain}: none of its MX hosts ({', '.join(hosts)}) is named by its policy"
            tls_policy.record(domain, HostPolicy(tls_policy.STS, hosts[0]), "validation-failure", detail=text)
            raise TransportError(f"4.7.5 {text}")
        for host in allowed:
            for address in self.addresses(host):
                if not netguard.deliverable_address(address):
                    internal.append(f"{host} ({address})")  # never ours to connect to (our own network)
                    continue
                try:
                    session = self._connect_from(domain, policy.for_host(host, secure), address, sources)
                except TransportError as exc:
                    if exc.permanent:
                        raise
                    (holds if exc.hold else errors).append(exc.text)
                    continue
                try:
                    yield session
                finally:
                    session.close()
                return
        if holds and not errors:
            raise TransportError("; ".join(holds), hold=True)
        if internal and not errors:
            raise TransportError(
                f"5.4.4 the mail servers of {domain} are internal addresses we do not deliver to: "
                + ", ".join(internal),
                code=554,
                permanent=True,
            )
        raise TransportError("; ".join(errors) or f"no mail server of {domain} answered")

    @staticmethod
    def _connect_from(
        domain: str, policy: HostPolicy, address: str, sources: list[egress.Source] | None
    ) -> SmtpSession:
        """A session to the MX from the first of the sources that can be bound and reaches the address's
        family; one that cannot be bound is set aside (sending.egress.bind_failed). None: the system picks
        the source."""
        host = policy.host
        if sources is None:
            return _connect_mx(domain, policy, address, None)
        for source in sources:
            if not source.reaches(address):
                continue
            try:
                return _connect_mx(domain, policy, address, source)
            except EgressUnavailable as exc:
                egress.bind_failed(exc.source, exc.error)
        # Addresses are chosen but none can carry this: the mail waits for the operator, never leaves
        # from an address nobody chose.
        raise TransportError(
            f"no egress address of this host ({settings.EGRESS_HOST}) can reach {host} ({address}): "
            + (", ".join(s.address for s in sources) or "none"),
            mx_host=host,
            hold=True,
        )

    @staticmethod
    def mx_hosts(domain: str) -> tuple[list[str], bool]:
        """The domain's mail servers, most preferred first, and whether the answer was DNSSEC-authenticated
        (DANE applies only to MX hosts found securely, RFC 7672 2.2.1)."""
        result = dns.lookup(domain, "MX")
        if result.outcome == dns.Outcome.NXDOMAIN:
            raise TransportError(
                f"5.1.2 domain {domain} does not exist", code=550, permanent=True, invalid=True
            )
        if result.outcome == dns.Outcome.TEMPORARY:
            raise TransportError(f"4.4.3 {result.error}")
        if result.outcome == dns.Outcome.NO_ANSWER:
            return [domain], False  # no MX: the domain itself is the mail server (RFC 5321 5.1)
        records = sorted((int(pref), host) for pref, host in (r.split() for r in result.records))
        if records and records[0][1] in ("", "."):
            raise TransportError(
                f"5.1.10 {domain} accepts no mail (null MX)", code=556, permanent=True, invalid=True
            )
        return [host for _pref, host in records], result.authenticated

    @staticmethod
    def addresses(host: str) -> list[str]:
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        found = []
        for rdtype in ("A", "AAAA"):
            result = dns.lookup(host, rdtype)
            if result.outcome == dns.Outcome.TEMPORARY:
                raise TransportError(f"4.4.3 {result.error}")
            found.extend(result.records)
        return found


def get_transport() -> Transport:
    mode = settings.DELIVERY_MODE
    if mode == "capture":
        return CaptureTransport()
    if mode == "relay":
        return RelayTransport(settings.SMTP_RELAY_URL or "")
    if mode == "mx":
        return MxTransport()
    raise ValueError(f"DELIVERY_MODE must be capture, relay or mx, not {mode!r}")


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
