"""The DNS records a sending domain publishes, and how to check each one against what DNS answers.

Pure functions over a Domain and the resolver module; the service (sending.services.domains) stores the
results and moves the domain's status.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from publicsuffixlist import PublicSuffixList

from directmail.typing import Label
from sending import dns
from sending.dkim import parse_tags
from sending.models import CheckStatus, DkimKey, DkimKeyStatus, Domain, RecordKind

_psl = PublicSuffixList()

OWNERSHIP_PREFIX = "_directmail"
REQUIRED = {RecordKind.OWNERSHIP, RecordKind.SPF, RecordKind.DKIM}


def registrable_domain(name: str) -> str | None:
    """The domain a DNS provider's zone is for: example.com.cn for mail.example.com.cn (None for a suffix)."""
    return _psl.privatesuffix(name)


@dataclass(frozen=True)
class RecordSpec:
    kind: str
    name: str  # fully qualified, no trailing dot
    type: str
    value: str
    required: bool
    why: Label
    dkim_key: DkimKey | None = None

    @property
    def split_value(self) -> str:
        """A long TXT value as quoted strings of at most 255 characters, for DNS editors that need them."""
        if self.type != "TXT" or len(self.value) <= 255:
            return ""
        return " ".join(f'"{self.value[i : i + 255]}"' for i in range(0, len(self.value), 255))

    @property
    def label(self) -> str:
        return str(RecordKind(self.kind).label)

    @property
    def host(self) -> str:
        """The name relative to the zone, as a DNS provider's editor wants it ("@" for the zone itself)."""
        zone = registrable_domain(self.name) or self.name
        if self.name == zone:
            return "@"
        return self.name[: -(len(zone) + 1)]


@dataclass(frozen=True)
class CheckResult:
    status: str
    found: str = ""
    error: str = ""
    suggested: str = ""  # a value to publish instead of what is there (SPF merge)


def report_address(domain: Domain) -> str:
    """Where the DMARC record sends aggregate reports: the domain itself, whose MX is our smtpd (the same
    organizational domain, so receivers need no external-destination record, RFC 7489 7.1)."""
    return f"{settings.DMARC_REPORT_LOCAL_PART}@{domain.name}"


def spf_value() -> str:
    return f"v=spf1 include:{settings.SPF_INCLUDE} -all"


def records_to_publish(domain: Domain) -> list[RecordSpec]:
    name = domain.name
    specs = [
        RecordSpec(
            RecordKind.OWNERSHIP,
            f"{OWNERSHIP_PREFIX}.{name}",
            "TXT",
            f"directmail-verify={domain.ownership_token}",
            True,
            _("Proves this account controls the domain. Only then may anyone send from it here."),
        ),
        RecordSpec(
            RecordKind.SPF,
            name,
            "TXT",
            spf_value(),
            True,
            _("Lists the servers allowed to send for the domain; receivers reject or junk mail from others."),
        ),
    ]
    for key in domain.dkim_keys.exclude(status=DkimKeyStatus.RETIRED).order_by("created_at"):
        specs.append(
            RecordSpec(
                RecordKind.DKIM,
                key.record_name,
                "TXT",
                key.record_value,
                key.status == DkimKeyStatus.ACTIVE,
                _("Publishes the key that signs every message, so receivers can tell it was not forged."),
                dkim_key=key,
            )
        )
    specs.append(
        RecordSpec(
            RecordKind.DMARC,
            f"_dmarc.{name}",
            "TXT",
            f"v=DMARC1; p=none; rua=mailto:{report_address(domain)}; adkim=r; aspf=r",
            False,
            _(
                "Tells receivers what to do with mail that fails SPF and DKIM, and where to send reports. "
                "Gmail and Yahoo require one from bulk senders; start with p=none and tighten later."
            ),
        )
    )
    specs.append(
        RecordSpec(
            RecordKind.MX,
            name,
            "MX",
            f"10 {settings.BOUNCE_MX_HOST}",
            False,
            _(
                "Optional: routes bounces back to directmail so invalid addresses are found and suppressed. "
                "Skip it if the domain already receives mail elsewhere."
            ),
        )
    )
    specs.append(
        RecordSpec(
            RecordKind.TLSRPT,
            f"_smtp._tls.{name}",
            "TXT",
            f"v=TLSRPTv1; rua=mailto:{settings.TLSRPT_LOCAL_PART}@{name}",
            False,
            _(
                "Optional: asks senders such as Gmail and Microsoft for a daily report of their TLS sessions "
                "to this domain's mail server; the domain's reports page shows them."
            ),
        )
    )
    return specs


def check(spec: RecordSpec) -> CheckResult:
    return _CHECKERS[RecordKind(spec.kind)](spec)


def _unanswered(result: dns.Lookup) -> CheckResult | None:
    if result.outcome == dns.Outcome.TEMPORARY:
        return CheckResult(CheckStatus.ERROR, error=result.error)
    if not result.found:
        return CheckResult(CheckStatus.MISSING, error=result.error)
    return None


def _check_ownership(spec: RecordSpec) -> CheckResult:
    result = dns.lookup(spec.name, "TXT")
    if failed := _unanswered(result):
        return failed
    found = "\n".join(result.records)
    if spec.value in [r.strip() for r in result.records]:
        return CheckResult(CheckStatus.VERIFIED, found=found)
    return CheckResult(CheckStatus.MISMATCH, found=found)


def merge_spf(existing: str) -> str:
    """Add our include to an SPF record, before its `all` or `redirect=` term."""
    terms = existing.split()
    include = f"include:{settings.SPF_INCLUDE}"
    for index, term in enumerate(terms):
        if term.lower().lstrip("+-~?") == "all" or term.lower().startswith("redirect="):
            return " ".join([*terms[:index], include, *terms[index:]])
    return " ".join([*terms, include])


def _check_spf(spec: RecordSpec) -> CheckResult:
    result = dns.lookup(spec.name, "TXT")
    if result.outcome == dns.Outcome.TEMPORARY:
        return CheckResult(CheckStatus.ERROR, error=result.error)
    spf = [r for r in result.records if r.lower().startswith("v=spf1")]
    if not spf:
        return CheckResult(CheckStatus.MISSING)
    found = "\n".join(spf)
    if len(spf) > 1:
        return CheckResult(
            CheckStatus.MISMATCH,
            found=found,
            error=str(
                _("There are several SPF records; receivers then ignore all of them. Keep exactly one.")
            ),
            suggested=merge_spf(spf[0]),
        )
    include = f"include:{settings.SPF_INCLUDE}".lower()
    if include in spf[0].lower().split():
        return CheckResult(CheckStatus.VERIFIED, found=found)
    return CheckResult(
        CheckStatus.MISMATCH,
        found=found,
        error=str(
            _("The SPF record does not include ours. Replace it with the merged record (never add a second).")
        ),
        suggested=merge_spf(spf[0]),
    )


def _check_dkim(spec: RecordSpec) -> CheckResult:
    result = dns.lookup(spec.name, "TXT")
    if failed := _unanswered(result):
        return failed
    found = "\n".join(result.records)
    assert spec.dkim_key is not None  # a DKIM record's spec names its key
    expected = spec.dkim_key.public_key
    if any(parse_tags(record).get("p") == expected for record in result.records):
        return CheckResult(CheckStatus.VERIFIED, found=found)
    return CheckResult(CheckStatus.MISMATCH, found=found)


def _check_dmarc(spec: RecordSpec) -> CheckResult:
    names = [spec.name]
    zone = registrable_domain(spec.name.removeprefix("_dmarc."))
    if zone and f"_dmarc.{zone}" != spec.name:
        names.append(f"_dmarc.{zone}")  # a subdomain inherits the organizational domain's policy
    for name in names:
        result = dns.lookup(name, "TXT")
        if result.outcome == dns.Outcome.TEMPORARY:
            return CheckResult(CheckStatus.ERROR, error=result.error)
        dmarc = [r for r in result.records if r.replace(" ", "").lower().startswith("v=dmarc1")]
        if dmarc:
            notes = [] if name == spec.name else [str(_("Inherited from %(name)s.") % {"name": name})]
            ours = spec.value.partition("rua=mailto:")[2].partition(";")[0]
            if ours and ours.lower() not in dmarc[0].lower():
                notes.append(
                    str(_("Its reports do not come here: add mailto:%(address)s to rua to see them.")
                        % {"address": ours})
                )  # fmt: skip
            return CheckResult(CheckStatus.VERIFIED, found=dmarc[0], error=" ".join(notes))
    return CheckResult(CheckStatus.MISSING)


def _check_tlsrpt(spec: RecordSpec) -> CheckResult:
    result = dns.lookup(spec.name, "TXT")
    if failed := _unanswered(result):
        return failed
    found = [r for r in result.records if r.replace(" ", "").startswith("v=TLSRPTv1")]
    if not found:
        return CheckResult(CheckStatus.MISSING)
    ours = spec.value.partition("rua=")[2]
    if ours.lower() not in found[0].lower():
        return CheckResult(CheckStatus.MISMATCH, found=found[0])
    return CheckResult(CheckStatus.VERIFIED, found=found[0])


def _check_mx(spec: RecordSpec) -> CheckResult:
    result = dns.lookup(spec.name, "MX")
    if failed := _unanswered(result):
        return failed
    hosts = [record.split()[-1].lower() for record in result.records]
    found = "\n".join(result.records)
    if settings.BOUNCE_MX_HOST.lower() in hosts:
        return CheckResult(CheckStatus.VERIFIED, found=found)
    return CheckResult(CheckStatus.MISMATCH, found=found)


_CHECKERS = {
    RecordKind.OWNERSHIP: _check_ownership,
    RecordKind.SPF: _check_spf,
    RecordKind.DKIM: _check_dkim,
    RecordKind.DMARC: _check_dmarc,
    RecordKind.MX: _check_mx,
    RecordKind.TLSRPT: _check_tlsrpt,
}
