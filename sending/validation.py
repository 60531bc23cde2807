"""Address validation: one validator for the API, the console and imports, answering DirectMail's Status
and SubStatus. No message is ever sent.

The checks, in order (the first that finds something answers):

1. syntax, internationalized addresses included (email-validator): INVALID / SYNTAX_INVALID;
2. a misspelled provider domain (gmial.com, hotmial.com, qq.con, 163.cm, ...; `TYPOS` and one edit away
   from `PROVIDERS`): INVALID / MISSPELLED, with the suggested address;
3. this account's suppression list: a hard bounce is INVALID / MAILBOX_NOT_EXISTS, a complaint,
   unsubscribe or entry made by hand DONOTMAIL / SUPPRESSED; and its bounce history: when the last mail
   of the past BOUNCE_HISTORY_DAYS to the address that ended bounced as a bad mailbox (or a full one),
   INVALID / MAILBOX_NOT_EXISTS (or MAILBOX_FULL), even where the suppression list was not told
   (a suppression list level that keeps nothing, an entry removed); a later delivery clears it. Mail
   is found under the address as it was sent to or in lower case (no index on a lower-cased recipient:
   the message table is the hottest we write);
4. a disposable domain (the maintained `disposable-email-domains` list): DONOTMAIL / DISPOSABLE;
5. a role account (admin@, postmaster@, sales@, ...): DONOTMAIL / ROLE_ACCOUNT;
6. the domain's MX (else A/AAAA) records, looked up once per domain in a run: none, a null MX or a domain
   that does not exist is INVALID / NO_DNS_ENTRIES; DNS trouble UNKNOWN / SYSTEM_ERROR;
7. otherwise VALID / UNSPECIFIED, and, when a probe is asked for, what the domain's mail server says of the
   mailbox (sending.validation_probe): MAILBOX_NOT_EXISTS, DISABLED, MAILBOX_FULL, GREYLISTED, CATCHALL,
   SMTP_CONNECT_FAILED, or UNKNOWN for providers never probed.
"""

import functools
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

import disposable_email_domains
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from email_validator import EmailNotValidError, validate_email

from sending import dns
from sending.bounce_categories import Category
from sending.domain_records import registrable_domain
from sending.esp import esp_of
from sending.models import Message, MessageState, Suppression, SuppressionReason, ValidationCounter


class Status(StrEnum):
    VALID = "VALID"
    CATCHALL = "CATCHALL"
    UNKNOWN = "UNKNOWN"
    INVALID = "INVALID"
    DONOTMAIL = "DONOTMAIL"


class SubStatus(StrEnum):
    UNSPECIFIED = "UNSPECIFIED"
    SYNTAX_INVALID = "SYNTAX_INVALID"
    MISSPELLED = "MISSPELLED"
    NO_DNS_ENTRIES = "NO_DNS_ENTRIES"
    MAILBOX_NOT_EXISTS = "MAILBOX_NOT_EXISTS"
    SUPPRESSED = "SUPPRESSED"
    DISPOSABLE = "DISPOSABLE"
    ROLE_ACCOUNT = "ROLE_ACCOUNT"
    SYSTEM_ERROR = "SYSTEM_ERROR"
    # From the SMTP probe (sending.validation_probe).
    MAILBOX_FULL = "MAILBOX_FULL"
    DISABLED = "DISABLED"
    GREYLISTED = "GREYLISTED"
    SMTP_CONNECT_FAILED = "SMTP_CONNECT_FAILED"


# Common misspellings of the big providers, worldwide and in China.
TYPOS = {
    "gmial.com": "gmail.com", "gmai.com": "gmail.com", "gamil.com": "gmail.com", "gmal.com": "gmail.com",
    "gmail.con": "gmail.com", "gmail.co": "gmail.com", "gmail.cm": "gmail.com", "gnail.com": "gmail.com",
    "hotmial.com": "hotmail.com", "hotmal.com": "hotmail.com", "hotmai.com": "hotmail.com",
    "hotmail.con": "hotmail.com", "hotmail.co": "hotmail.com", "homtail.com": "hotmail.com",
    "outlok.com": "outlook.com", "outlook.con": "outlook.com", "yaho.com": "yahoo.com",
    "yahooo.com": "yahoo.com", "yahoo.con": "yahoo.com", "yhaoo.com": "yahoo.com", "iclod.com": "icloud.com",
    "icloud.con": "icloud.com", "qq.con": "qq.com", "qq.co": "qq.com", "qq.cm": "qq.com", "qq.om": "qq.com",
    "163.cm": "163.com", "163.con": "163.com", "163.co": "163.com", "163.om": "163.com", "126.con": "126.com",
    "126.cm": "126.com", "126.co": "126.com", "sina.con": "sina.com", "sina.cm": "sina.com",
    "sian.com": "sina.com", "foxmail.con": "foxmail.com", "foxmial.com": "foxmail.com",
    "aliyun.con": "aliyun.com", "139.con": "139.com", "yeah.nte": "yeah.net", "sohu.con": "sohu.com",
}  # fmt: skip
# Providers an address one edit away from is taken as misspelled (when it is no provider itself).
PROVIDERS = (
    "gmail.com", "googlemail.com", "hotmail.com", "outlook.com", "live.com", "msn.com", "yahoo.com",
    "icloud.com", "aol.com", "protonmail.com", "gmx.com", "gmx.de", "web.de", "mail.ru", "yandex.ru",
    "qq.com", "foxmail.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com",
    "aliyun.com", "139.com", "189.cn", "tom.com", "naver.com", "daum.net",
)  # fmt: skip
FREE_MAIL = frozenset(PROVIDERS) | {"hotmail.co.uk", "yahoo.co.jp", "yahoo.co.uk", "vip.qq.com", "me.com"}
# Local parts of shared mailboxes rather than people (RFC 2142 and common practice).
ROLES = frozenset((
    "abuse", "admin", "administrator", "billing", "compliance", "contact", "customerservice", "devnull",
    "dns", "enquiries", "ftp", "help", "helpdesk", "hostmaster", "info", "inoc", "ispfeedback",
    "ispsupport", "jobs", "list", "list-request", "mail", "maildaemon", "mailer-daemon", "marketing",
    "news", "newsletter", "no-reply", "noc", "noreply", "nobody", "null", "office", "orders", "postmaster",
    "privacy", "remove", "root", "sales", "security", "service", "spam", "subscribe", "support", "sysadmin",
    "tech", "undisclosed-recipients", "unsubscribe", "usenet", "uucp", "webmaster", "www",
))  # fmt: skip


@dataclass
class Result:
    email: str
    status: Status
    sub_status: SubStatus = SubStatus.UNSPECIFIED
    local_part: str = ""  # lower case, the +tag removed
    domain_part: str = ""  # lower case (A-labels as written: the Unicode form)
    suggestion: str = ""  # the address corrected, for MISSPELLED
    is_free_mail: bool = False
    provider: str = ""
    mx_valid: bool | None = None  # None: not looked up
    disposable: bool = False
    format_valid: bool = True

    @property
    def ok_to_send(self) -> bool:
        return self.status in (Status.VALID, Status.CATCHALL)


def _one_edit_apart(a: str, b: str) -> bool:
    """Levenshtein distance 1, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])  # fmt: skip
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


@functools.lru_cache(maxsize=4096)
def suggestion_for(domain: str) -> str:
    """The provider domain `domain` looks like a misspelling of ("" when none)."""
    if domain in TYPOS:
        return TYPOS[domain]
    if domain in FREE_MAIL or len(domain) < 6:
        return ""
    return next((p for p in PROVIDERS if _one_edit_apart(domain, p)), "")


def is_disposable(domain: str) -> bool:
    blocklist = disposable_email_domains.blocklist
    return domain in blocklist or (registrable_domain(domain) or domain) in blocklist


@dataclass
class Validator:
    """Validates addresses for one account (None: no suppression list), looking up each domain once."""

    account_id: int | None = None
    _domains: dict[str, tuple[bool | None, str]] = field(default_factory=dict)  # domain -> (mx ok, error)
    _suppressions: dict[str, set[str]] | None = None  # address -> reasons, when prefetched
    _last_bounces: dict[str, str] | None = None  # address -> its last mail's bounce category, prefetched

    def prefetch(self, addresses: list[str]) -> None:
        """Read the suppression list and the bounce history for many addresses at once (a file or list),
        in a few queries (500 addresses each)."""
        if self.account_id is None:
            return
        keys = sorted({a.strip().lower() for a in addresses if a})
        found: dict[str, set[str]] = {}
        for at in range(0, len(keys), 500):
            rows = Suppression.objects.filter(account_id=self.account_id, address__in=keys[at : at + 500])
            for address, reason in rows.values_list("address", "reason"):
                found.setdefault(address, set()).add(reason)
        self._suppressions = found
        spellings = sorted({a.strip() for a in addresses if a} | set(keys))
        bounces: dict[str, str] = {}
        for at in range(0, len(spellings), 500):
            for rcpt, category in _last_outcomes(self.account_id, spellings[at : at + 500]).items():
                bounces[rcpt] = category
        self._last_bounces = bounces

    def domain_accepts_mail(self, domain: str) -> tuple[bool | None, str]:
        """(True: it has a mail server, False: it has none, None: DNS could not say; the error)."""
        if domain not in self._domains:
            self._domains[domain] = _lookup(domain)
        return self._domains[domain]

    def validate(self, address: str) -> Result:
        try:
            parsed = validate_email(address.strip(), check_deliverability=False)
        except EmailNotValidError:
            return Result(address, Status.INVALID, SubStatus.SYNTAX_INVALID, format_valid=False)
        domain = parsed.domain.lower()
        local = parsed.local_part.lower().split("+", 1)[0]
        result = Result(parsed.normalized, Status.VALID, local_part=local, domain_part=domain,
                        is_free_mail=domain in FREE_MAIL, provider=esp_of(domain))  # fmt: skip
        result.disposable = is_disposable(domain)
        if suggested := suggestion_for(domain):
            result.status, result.sub_status = Status.INVALID, SubStatus.MISSPELLED
            result.suggestion = f"{parsed.local_part}@{suggested}"
            return result
        if (found := self._suppressed(parsed.normalized) or self._bounced(parsed.normalized)) is not None:
            result.status, result.sub_status = found
            return result
        if result.disposable:
            result.status, result.sub_status = Status.DONOTMAIL, SubStatus.DISPOSABLE
            return result
        if local in ROLES:
            result.status, result.sub_status = Status.DONOTMAIL, SubStatus.ROLE_ACCOUNT
            return result
        result.mx_valid, _error = self.domain_accepts_mail(parsed.ascii_domain or domain)
        if result.mx_valid is None:
            result.status, result.sub_status = Status.UNKNOWN, SubStatus.SYSTEM_ERROR
        elif not result.mx_valid:
            result.status, result.sub_status = Status.INVALID, SubStatus.NO_DNS_ENTRIES
        return result

    def _suppressed(self, address: str) -> tuple[Status, SubStatus] | None:
        if self.account_id is None:
            return None
        if self._suppressions is not None:
            reasons = self._suppressions.get(address.lower(), set())
        else:
            rows = Suppression.objects.filter(account_id=self.account_id, address=address.lower())
            reasons = set(rows.values_list("reason", flat=True))
        if not reasons:
            return None
        if SuppressionReason.HARD_BOUNCE in reasons:
            return Status.INVALID, SubStatus.MAILBOX_NOT_EXISTS
        return Status.DONOTMAIL, SubStatus.SUPPRESSED

    def _bounced(self, address: str) -> tuple[Status, SubStatus] | None:
        if self.account_id is None:
            return None
        if self._last_bounces is not None:
            category = self._last_bounces.get(address.lower(), "")
        else:
            category = _last_outcomes(self.account_id, sorted({address, address.lower()})).get(
                address.lower(), ""
            )
        return HISTORY_ANSWERS.get(category)


BOUNCE_HISTORY_DAYS = 90
# A bounce category of the last mail to an address -> what that says of the address.
HISTORY_ANSWERS: dict[str, tuple[Status, SubStatus]] = {
    Category.BAD_MAILBOX: (Status.INVALID, SubStatus.MAILBOX_NOT_EXISTS),
    Category.MAILBOX_FULL: (Status.INVALID, SubStatus.MAILBOX_FULL),
}


def _last_outcomes(account_id: int, spellings: list[str]) -> dict[str, str]:
    """For each address among `spellings` (lower-cased): the bounce category of the account's last mail
    to it in BOUNCE_HISTORY_DAYS that ended delivered or bounced ("" when delivered)."""
    since = timezone.now() - timedelta(days=BOUNCE_HISTORY_DAYS)
    rows = (
        Message.objects.filter(
            account_id=account_id,
            rcpt__in=spellings,
            created_at__gte=since,
            state__in=(MessageState.DELIVERED, MessageState.FAILED, MessageState.INVALID),
        )
        .order_by("created_at", "pk")
        .values_list("rcpt", "state", "bounce_category")
    )
    last: dict[str, str] = {}
    for rcpt, state, category in rows:  # the latest wins
        last[rcpt.lower()] = "" if state == MessageState.DELIVERED else category
    return last


def _lookup(domain: str) -> tuple[bool | None, str]:
    result = dns.lookup(domain, "MX")
    if result.outcome == dns.Outcome.NXDOMAIN:
        return False, result.error
    if result.outcome == dns.Outcome.TEMPORARY:
        return None, result.error
    if result.outcome == dns.Outcome.OK:
        hosts = [r.split()[-1] for r in result.records]
        return (hosts != ["."] and hosts != [""]), ""  # a null MX (RFC 7505) takes no mail
    for rdtype in ("A", "AAAA"):  # no MX: the domain itself is the mail server (RFC 5321 5.1)
        found = dns.lookup(domain, rdtype)
        if found.outcome == dns.Outcome.TEMPORARY:
            return None, found.error
        if found.found:
            return True, ""
    return False, f"{domain} has no MX, A or AAAA record"


# -- configuration sets' ValidationOption (DirectMail's): recipients validated before sending


def option_errors(option: dict) -> list[str]:
    """What is wrong with a ValidationOption (Enabled, ForbiddenStatusList, ForbiddenSubStatusList)."""
    errors = []
    for key, known in (("ForbiddenStatusList", Status), ("ForbiddenSubStatusList", SubStatus)):
        values = option.get(key) or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors.append(f"{key} is a list of names")
            continue
        unknown = sorted(set(values) - {str(v) for v in known})
        if unknown:
            errors.append(f"{key}: unknown {', '.join(unknown)}")
    return errors


def enabled(option: dict | None) -> bool:
    return option is not None and option.get("Enabled") in (True, "true", "True", 1, "1")


def forbids(option: dict, result: Result) -> bool:
    """Whether a set's option keeps `result`'s address from being sent to (INVALID when it names none)."""
    statuses = set(option.get("ForbiddenStatusList") or [])
    subs = set(option.get("ForbiddenSubStatusList") or [])
    if not statuses and not subs:
        statuses = {str(Status.INVALID)}
    return str(result.status) in statuses or str(result.sub_status) in subs


# -- the account's validation quota


class QuotaExhausted(Exception):
    """The account's validations for today or this month are used up; `period` says which."""

    def __init__(self, period: str, limit: int):
        super().__init__(period)
        self.period, self.limit = period, limit


FULL_COST, BASIC_COST = 3, 1  # in thirds of a check


def _periods(account) -> list[tuple[str, date, int]]:
    today = account.today()
    return [
        (ValidationCounter.Period.DAY, today, account.limit("validation_daily_quota")),
        (ValidationCounter.Period.MONTH, today.replace(day=1), account.limit("validation_monthly_quota")),
    ]


def reserve(account, thirds: int) -> None:
    """Take `thirds` of a check from today's and this month's quota, or raise QuotaExhausted (nothing
    taken). One conditional UPDATE per period in one transaction: concurrent callers cannot overdraw."""
    with transaction.atomic():
        for period, start, limit in _periods(account):
            ValidationCounter.objects.bulk_create(
                [ValidationCounter(account=account, period=period, start=start)], ignore_conflicts=True
            )
            taken = ValidationCounter.objects.filter(
                account=account, period=period, start=start, thirds__lte=limit * 3 - thirds
            ).update(thirds=F("thirds") + thirds)
            if not taken:
                transaction.set_rollback(True)
                raise QuotaExhausted(period, limit)


def give_back(account, thirds: int) -> None:
    """Return `thirds` taken by `reserve` (a probe that could not say: FULL checks meter no UNKNOWN)."""
    for period, start, _limit in _periods(account):
        ValidationCounter.objects.filter(
            account=account, period=period, start=start, thirds__gte=thirds
        ).update(thirds=F("thirds") - thirds)


def usage(account) -> dict[str, tuple[int, int]]:
    """{"day": (used, limit), "month": (used, limit)} in whole checks (a started one counts)."""
    found = {}
    for period, start, limit in _periods(account):
        thirds = (
            ValidationCounter.objects.filter(account=account, period=period, start=start)
            .values_list("thirds", flat=True)
            .first()
            or 0
        )
        found[str(period)] = (-(-thirds // 3), limit)
    return found
