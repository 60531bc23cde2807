"""TLS policy of a destination in mx mode: DANE (RFC 7672), MTA-STS (RFC 8461), else opportunistic.

For each recipient domain the transport asks `for_domain`, then for each MX host `DomainPolicy.for_host`:

- DANE: TLSA records at `_25._tcp.<mx>` in an answer the resolver authenticated (the AD bit, trusted only
  with DNS_DNSSEC_VALIDATING), for an MX host named by an authenticated MX answer, take precedence.
  STARTTLS is then required, and the server's certificate must match a DANE-EE record (usage 3: the
  certificate or its public key, full or SHA-256/512) or a DANE-TA record (usage 2: a certificate of the
  server's chain that signs its way down to a certificate valid for the MX name); a host whose records
  are all of other usages gets encryption without authentication, as RFC 7672 2.2 says.
- MTA-STS: the `_mta-sts.<domain>` TXT record names a policy fetched from
  `https://mta-sts.<domain>/.well-known/mta-sts.txt` (its certificate checked, no redirects), kept for its
  max_age in MtaStsPolicy and fetched again when the TXT id changes. `enforce`: only MX hosts the policy
  names are used, and each needs STARTTLS with a certificate valid for its name (the system's trust store,
  or SSL_CERT_FILE); anything else defers the mail. `testing`: the same check, whose failure is only
  recorded (the mail goes on opportunistically). `none`: no policy.
- Otherwise opportunistic: STARTTLS when offered, no certificate check.

`record` counts each session's result per day, policy and MX (TlsOutcome) for TLS-RPT (sending.tlsrpt).
"""

import hashlib
import http.client
import logging
import re
import ssl
import time
from dataclasses import dataclass, field
from datetime import timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sending import dns, netguard
from sending.models import MtaStsPolicy, TlsOutcome

log = logging.getLogger(__name__)

DANE, STS, STS_TESTING, OPPORTUNISTIC = "dane", "mta-sts", "mta-sts-testing", "opportunistic"
MAX_AGE_LIMIT = 31_557_600  # RFC 8461 3.2: at most a year
MEMO_SECONDS = 60.0  # a worker asks DNS again for a domain's policy after this long
_memo: dict[str, tuple[float, "DomainPolicy"]] = {}


class PolicyFailure(Exception):
    """A TLS policy was not met; `result` is the TLS-RPT result-type."""

    def __init__(self, result: str, text: str):
        super().__init__(text)
        self.result, self.text = result, text


@dataclass(frozen=True)
class StsPolicy:
    mode: str  # enforce | testing
    mx: tuple[str, ...]
    max_age: int
    text: str

    def matches(self, host: str) -> bool:
        """RFC 8461 4.1: a pattern matches the host, "*." only one leftmost label."""
        host = host.lower().rstrip(".")
        for pattern in self.mx:
            if pattern.startswith("*."):
                first, _dot, rest = host.partition(".")
                if first and rest == pattern[2:]:
                    return True
            elif host == pattern:
                return True
        return False


@dataclass(frozen=True)
class Tlsa:
    usage: int
    selector: int
    matching: int
    data: bytes

    def matches(self, der: bytes) -> bool:
        if self.selector == 1:  # the public key (SubjectPublicKeyInfo), else the whole certificate
            key = x509.load_der_x509_certificate(der).public_key()
            der = key.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        if self.matching == 0:
            return der == self.data
        if self.matching in (1, 2):
            return (hashlib.sha256 if self.matching == 1 else hashlib.sha512)(der).digest() == self.data
        return False


@dataclass(frozen=True)
class HostPolicy:
    """What a session to one MX host must do."""

    kind: str  # DANE | STS | STS_TESTING | OPPORTUNISTIC
    host: str
    tlsa: tuple[Tlsa, ...] = ()

    @property
    def policy_type(self) -> str:
        """TLS-RPT's policy-type."""
        return {DANE: "tlsa", STS: "sts", STS_TESTING: "sts"}.get(self.kind, "no-policy-found")

    @property
    def requires_tls(self) -> bool:
        return self.kind in (DANE, STS)

    @property
    def verifies_name(self) -> bool:
        return self.kind in (STS, STS_TESTING)


@dataclass(frozen=True)
class DomainPolicy:
    domain: str
    sts: StsPolicy | None = None
    fetch_error: PolicyFailure | None = None  # the policy named by DNS could not be fetched or read
    _hosts: dict[str, HostPolicy] = field(default_factory=dict, compare=False, hash=False)

    def allowed(self, hosts: list[str]) -> list[str]:
        """The MX hosts mail may go to: under an enforced MTA-STS policy, those it names."""
        if self.sts is None or self.sts.mode != "enforce":
            return hosts
        return [h for h in hosts if self.sts.matches(h)]

    def for_host(self, host: str, mx_secure: bool = True) -> HostPolicy:
        """The policy of a session to `host`; `mx_secure`: the MX answer naming it was authenticated."""
        key = f"{host}/{mx_secure}"
        if key not in self._hosts:
            self._hosts[key] = self._host_policy(host, mx_secure)
        return self._hosts[key]

    def _host_policy(self, host: str, mx_secure: bool) -> HostPolicy:
        tlsa = _tlsa(host) if mx_secure else None
        if tlsa is not None:
            return HostPolicy(DANE, host, tlsa)
        if self.sts is not None and self.sts.matches(host):
            return HostPolicy(STS if self.sts.mode == "enforce" else STS_TESTING, host)
        return HostPolicy(OPPORTUNISTIC, host)


def _tlsa(host: str) -> tuple[Tlsa, ...] | None:
    """The host's authenticated TLSA records (None: no DANE for it)."""
    if not settings.DNS_DNSSEC_VALIDATING:
        return None
    result = dns.lookup(f"_25._tcp.{host}", "TLSA")
    if not (result.found and result.authenticated):
        return None
    records = []
    for text in result.records:
        try:
            usage, selector, matching, data = text.split(None, 3)
            digest = bytes.fromhex(data.replace(" ", ""))
            records.append(Tlsa(int(usage), int(selector), int(matching), digest))
        except ValueError:
            continue  # an unusable record, as if absent
    return tuple(records)


# -- MTA-STS


_TXT_ID = re.compile(r"(?:^|;)\s*id\s*=\s*([A-Za-z0-9]{1,32})\s*(?:;|$)")


def parse_policy(text: str) -> StsPolicy | None:
    """An STSv1 policy's text (RFC 8461 3.2); None for mode none. Raises PolicyFailure if invalid."""
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), []).append(value.strip())
    mode = (fields.get("mode") or [""])[0].lower()
    try:
        max_age = int((fields.get("max_age") or [""])[0])
    except ValueError:
        max_age = -1
    mx = tuple(p.lower().rstrip(".") for p in fields.get("mx", []) if p)
    if (fields.get("version") or [""])[0] != "STSv1" or mode not in ("enforce", "testing", "none"):
        raise PolicyFailure("sts-policy-invalid", "the MTA-STS policy has no valid version or mode")
    if not 0 <= max_age <= MAX_AGE_LIMIT or (mode != "none" and not mx):
        raise PolicyFailure("sts-policy-invalid", "the MTA-STS policy has no valid max_age or mx")
    return None if mode == "none" else StsPolicy(mode, mx, max_age, text)


def fetch_policy(domain: str) -> str:
    """The policy text served at https://mta-sts.<domain>/.well-known/mta-sts.txt; PolicyFailure if not."""
    host = f"mta-sts.{domain}"
    addresses: list[str] = []
    for rdtype in ("A", "AAAA"):
        addresses.extend(dns.lookup(host, rdtype).records)
    addresses = [a for a in addresses if netguard.deliverable_address(a)]
    if not addresses:
        raise PolicyFailure("sts-policy-fetch-error", f"{host} has no address we may connect to")
    last, path = "", "/.well-known/mta-sts.txt"
    for address in addresses:
        target = netguard.Target("https", host, settings.MTA_STS_PORT, path, address)
        connection = netguard.PinnedHTTPSConnection(target, settings.SMTP_TIMEOUT)
        try:
            connection.request("GET", path, headers={"User-Agent": "directmail"})
            response = connection.getresponse()
            body = response.read(65_537)
        except ssl.SSLCertVerificationError as exc:
            text = f"the certificate of {host} is not valid: {exc.verify_message}"
            raise PolicyFailure("sts-webpki-invalid", text) from exc
        except (OSError, http.client.HTTPException) as exc:
            last = f"{host} ({address}): {exc}"
            continue
        finally:
            connection.close()
        if response.status != 200:  # redirects are not followed (RFC 8461 3.3)
            raise PolicyFailure("sts-policy-fetch-error", f"{host} answered HTTP {response.status}")
        if len(body) > 65_536:
            raise PolicyFailure("sts-policy-invalid", f"the MTA-STS policy of {domain} is over 64 KB")
        return body.decode("utf-8", "replace")
    raise PolicyFailure("sts-policy-fetch-error", f"could not fetch the MTA-STS policy: {last}")


def _sts(domain: str) -> tuple[StsPolicy | None, PolicyFailure | None]:
    """The domain's MTA-STS policy: the cached one while valid and its id unchanged, else fetched again."""
    now = timezone.now()
    cached = MtaStsPolicy.objects.filter(domain=domain).first()
    valid = cached if cached is not None and cached.expires_at > now else None
    txt = dns.lookup(f"_mta-sts.{domain}", "TXT")
    records = [r for r in txt.records if r.replace(" ", "").startswith("v=STSv1")]
    if txt.outcome == dns.Outcome.TEMPORARY or not records:
        # No record (or DNS trouble): a policy still in its max_age holds (RFC 8461 5.1), else none.
        return _from_cached(valid), None
    match = _TXT_ID.search(records[0]) if len(records) == 1 else None
    if match is None:
        return _from_cached(valid), None  # an invalid record counts as none
    policy_id = match.group(1)
    if valid is not None and valid.policy_id == policy_id:
        return _from_cached(valid), None
    try:
        text = fetch_policy(domain)
        policy = parse_policy(text)
    except PolicyFailure as failure:
        log.info("MTA-STS of %s: %s", domain, failure.text)
        return _from_cached(valid), failure
    max_age = policy.max_age if policy else 86400
    MtaStsPolicy.objects.update_or_create(
        domain=domain,
        defaults={
            "policy_id": policy_id,
            "mode": policy.mode if policy else "none",
            "mx": list(policy.mx) if policy else [],
            "max_age": max_age,
            "text": text[:10_000],
            "fetched_at": now,
            "expires_at": now + timedelta(seconds=max_age),
        },
    )
    return policy, None


def _from_cached(cached: MtaStsPolicy | None) -> StsPolicy | None:
    if cached is None or cached.mode not in ("enforce", "testing"):
        return None
    return StsPolicy(cached.mode, tuple(cached.mx), cached.max_age, cached.text)


def for_domain(domain: str) -> DomainPolicy:
    """The recipient domain's policy, asked of DNS (and the policy host) at most every MEMO_SECONDS."""
    domain = domain.lower().rstrip(".")
    now = time.monotonic()
    memo = _memo.get(domain)
    if memo is not None and memo[0] > now:
        return memo[1]
    sts, failure = _sts(domain)
    policy = DomainPolicy(domain, sts, failure)
    _memo[domain] = (now + MEMO_SECONDS, policy)
    return policy


def clear_memo() -> None:
    _memo.clear()


# -- checking a session


def context(policy: HostPolicy, *, verify: bool = True) -> ssl.SSLContext:
    """The TLS context of a session under `policy`: verifying for MTA-STS (unless `verify` is off, after a
    testing-mode failure), not for DANE (checked against the TLSA records afterwards) or opportunistic TLS."""
    ctx = ssl.create_default_context()
    if not (verify and policy.verifies_name):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def peer_chain(sock: ssl.SSLSocket) -> list[bytes]:
    """The certificates the server sent, leaf first, as DER. Python 3.13 has SSLSocket.get_unverified_chain;
    3.11 has it on the socket's _ssl object."""
    sslobj = getattr(sock, "_sslobj", None)
    chain = getattr(sslobj, "get_unverified_chain", lambda: None)() or []
    found = [c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]  # type: ignore[attr-defined]
    if not found:
        leaf = sock.getpeercert(binary_form=True)
        found = [leaf] if leaf else []
    return found


def _names_match(cert: x509.Certificate, host: str) -> bool:
    """RFC 6125 as RFC 7672 3.2.3 asks: a DNS name of the certificate is the host, "*." one leftmost label."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    host = host.lower().rstrip(".")
    for name in names.get_values_for_type(x509.DNSName):
        name = name.lower().rstrip(".")
        if name == host or (name.startswith("*.") and host.partition(".")[2] == name[2:]):
            return True
    return False


def _issued_by(chain: list[x509.Certificate], anchor: int) -> bool:
    """Each certificate from the leaf up to chain[anchor] is signed by the next."""
    try:
        for i in range(anchor):
            chain[i].verify_directly_issued_by(chain[i + 1])
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_dane(policy: HostPolicy, chain_der: list[bytes]) -> bool:
    """Whether the server's chain (leaf first) passes the host's usable TLSA records: DANE-EE (3), the leaf
    itself; DANE-TA (2), a certificate of the chain that signs its way down to a leaf valid for the host
    and in its validity period. True when it passes, False when no record is usable (encryption without
    authentication, RFC 7672 2.2), PolicyFailure when records are usable and none passes."""
    usable = [r for r in policy.tlsa if r.usage in (2, 3)]
    if not usable:
        return False
    if chain_der and any(r.usage == 3 and r.matches(chain_der[0]) for r in usable):
        return True
    certs = [x509.load_der_x509_certificate(der) for der in chain_der]
    now = timezone.now()
    for index, der in enumerate(chain_der):
        if not any(r.usage == 2 and r.matches(der) for r in usable):
            continue
        leaf = certs[0]
        if (
            _issued_by(certs, index)
            and _names_match(leaf, policy.host)
            and leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc
        ):
            return True
    text = f"the certificate of {policy.host} matches none of its TLSA records"
    raise PolicyFailure("validation-failure", text)


def failure_of(exc: ssl.SSLCertVerificationError) -> str:
    """The TLS-RPT result-type of a certificate that did not verify."""
    message = (exc.verify_message or str(exc)).lower()
    if "hostname" in message or "ip address mismatch" in message:
        return "certificate-host-mismatch"
    if "expired" in message:
        return "certificate-expired"
    if "self-signed" in message or "unable to get local issuer" in message or "self signed" in message:
        return "certificate-not-trusted"
    return "validation-failure"


def record(domain: str, policy: HostPolicy, result: str, *, sending_ip: str = "", receiving_ip: str = "",
           detail: str = "") -> None:  # fmt: skip
    """Count one session's TLS outcome for TLS-RPT; never fails the delivery (a failure is logged)."""
    day = timezone.now().date()
    key = {"day": day, "domain": domain, "policy_type": policy.policy_type, "mx_host": policy.host,
           "result": result, "sending_ip": sending_ip, "receiving_ip": receiving_ip}  # fmt: skip
    try:
        with transaction.atomic():
            TlsOutcome.objects.bulk_create([TlsOutcome(**key)], ignore_conflicts=True)  # the row, once
            TlsOutcome.objects.filter(**key).update(count=F("count") + 1, detail=detail[:255])
    except Exception:  # the counts are for reports; a delivery never waits on them
        log.exception("could not count a TLS outcome for %s", domain)
