"""Why mail did not arrive: one category for every failed, deferred and invalid outcome, synchronous (the
receiver's reply) or from a DSN, read from the enhanced status code first (RFC 3463 and the IANA registry
of enhanced status codes), then from the texts providers send.

Codes whose detail says exactly what happened decide alone (X.1.1 bad mailbox, X.2.2 mailbox full, X.7.26
authentication, ...). Generic ones (X.0.0, X.7.1 "delivery not authorized", ...) and codes a provider uses
in its own way are decided by the text when one of TEXTS matches, else by the code. Replies without an
enhanced code are read by their text, then by their reply code.

Only recipient-caused categories suppress the recipient (RECIPIENT_CAUSED; a mailbox that is full
repeatedly, too); a blocklist, reputation or policy refusal is about us, never about the address
(SENDER_CAUSED: repeated ones at a provider warn the account instead).
"""

import re

from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    BAD_MAILBOX = "bad_mailbox", _("Bad mailbox")
    BAD_DOMAIN = "bad_domain", _("Bad domain")
    MAILBOX_FULL = "mailbox_full", _("Mailbox full")
    TOO_LARGE = "too_large", _("Message too large")
    RATE_LIMITED = "rate_limited", _("Rate limited")
    REPUTATION = "reputation", _("Reputation or blocklist")
    POLICY = "policy", _("Policy or content")
    AUTHENTICATION = "authentication", _("Authentication (SPF, DKIM, DMARC)")
    TLS = "tls", _("TLS")
    DNS = "dns", _("DNS")
    CONNECTION = "connection", _("Connection")
    OTHER = "other", _("Other")


C = Category
RECIPIENT_CAUSED = frozenset({C.BAD_MAILBOX, C.BAD_DOMAIN})
SENDER_CAUSED = frozenset({C.REPUTATION, C.POLICY})

# Enhanced status codes by "subject.detail" (the class, 4 or 5, is whether to retry). None: generic, the
# text decides (falling back to the code's subject).
CODES: dict[str, Category | None] = {
    "0.0": None,
    "1.0": None, "1.1": C.BAD_MAILBOX, "1.2": C.BAD_DOMAIN, "1.3": C.BAD_MAILBOX, "1.4": C.BAD_MAILBOX,
    "1.5": C.OTHER, "1.6": C.BAD_MAILBOX, "1.7": C.POLICY, "1.8": C.POLICY, "1.9": C.OTHER,
    "1.10": None,  # RFC 7505 null MX; Microsoft also answers 5.1.10 RecipientNotFound
    "2.0": None, "2.1": None, "2.2": C.MAILBOX_FULL, "2.3": C.TOO_LARGE, "2.4": C.OTHER,
    "3.0": None, "3.1": C.OTHER, "3.2": None, "3.3": C.OTHER, "3.4": C.TOO_LARGE, "3.5": C.OTHER,
    "4.0": None, "4.1": None, "4.2": C.CONNECTION, "4.3": C.DNS, "4.4": C.DNS, "4.5": C.RATE_LIMITED,
    "4.6": C.OTHER, "4.7": C.OTHER,  # 4.1: "no answer from host", and Microsoft's recipient refusals
    "5.0": None, "5.1": C.OTHER, "5.2": C.OTHER, "5.3": C.RATE_LIMITED, "5.4": C.OTHER, "5.5": C.OTHER,
    "5.6": C.OTHER,
    "6.0": None,
    "7.0": None, "7.1": None, "7.2": C.POLICY, "7.3": C.POLICY, "7.4": C.TLS, "7.5": C.TLS, "7.6": C.OTHER,
    "7.7": C.OTHER, "7.8": C.AUTHENTICATION, "7.9": None, "7.10": C.TLS, "7.11": C.TLS,
    "7.12": C.AUTHENTICATION, "7.13": C.BAD_MAILBOX, "7.14": C.POLICY, "7.15": C.POLICY, "7.16": C.POLICY,
    "7.17": C.BAD_MAILBOX, "7.18": C.BAD_DOMAIN, "7.19": C.OTHER, "7.20": C.AUTHENTICATION,
    "7.21": C.AUTHENTICATION, "7.22": C.AUTHENTICATION, "7.23": C.AUTHENTICATION, "7.24": C.AUTHENTICATION,
    "7.25": C.AUTHENTICATION, "7.26": C.AUTHENTICATION, "7.27": C.AUTHENTICATION,
    "7.28": C.RATE_LIMITED, "7.29": C.AUTHENTICATION, "7.30": C.TLS,
}  # fmt: skip
# The category of a generic or unknown code, by its subject (the number after the class).
SUBJECTS: dict[str, Category] = {
    "0": C.OTHER, "1": C.BAD_MAILBOX, "2": C.OTHER, "3": C.OTHER, "4": C.CONNECTION, "5": C.OTHER,
    "6": C.OTHER, "7": C.POLICY,
}  # fmt: skip

# Provider texts, searched case-insensitively in order (the first match wins). Each names where it is seen.
TEXTS: tuple[tuple[str, Category], ...] = (
    # Our own texts for what is no receiver's answer
    (r"^internal error|^sending domain \S+ is \w+; held|^warm-up|^IP pool ", C.OTHER),
    # Gmail (support.google.com/a/answer/3726730)
    (r"account that you tried to reach does not exist|does not exist\. please try double-checking",
     C.BAD_MAILBOX),
    (r"account that you tried to reach is (over quota|disabled)|inbox is out of storage", C.MAILBOX_FULL),
    (r"unusual rate of unsolicited mail|receiving mail at a rate that|rate that prevents additional",
     C.RATE_LIMITED),
    (r"unauthenticated|does not pass (spf|dkim|dmarc)|dmarc (policy|verification)|not pass authentication|"
     r"\bspf\b|\bdkim\b|\bdmarc\b|\bptr record\b|reverse dns|sender authentication|not authenticated|"
     r"authentication (level|requirements)|sender verify failed|cannot find your (reverse )?hostname",
     C.AUTHENTICATION),
    (r"likely unsolicited mail|likely suspicious|blocked due to (spam|policy)|detected (as )?spam|"
     r"message content|content (rejected|denied|filter)|spam message|looks like spam|"
     r"\b(MI:SPB|MI:SPM|DT:SPM|DT:RBL)\b|mail content denied|rejected for policy|policy reasons|"
     r"content restriction|administrative prohibition|rejected by recipients",
     C.POLICY),
    # Microsoft (learn.microsoft.com, NDRs in Exchange Online; Outlook.com postmaster)
    (r"RecipientNotFound|Recipient address rejected: Access denied|\bAS\(201806281\)|"
     r"requested action not taken: mailbox unavailable", C.BAD_MAILBOX),
    # Blocklists and reputation (Microsoft, Yahoo, NetEase, Comcast, the DNSBLs)
    (r"\bS3140\b|\bS3150\b|\bS775\b|banned sending IP|traffic not accepted from this IP|"
     r"temporarily rate limited due to IP reputation|\bblock(ed)? (list|using)\b|on (our|a) block ?list|"
     r"\bblack ?list|spamhaus|spamcop|barracuda|sorbs|\bRBL\b|\bDNSBL\b|listed (at|on|in|by)|"
     r"poor reputation|bad reputation|IP reputation|sender reputation|\bHL:(IHU|IPB)\b|"
     r"\[TSS0[49]\]|\bTS0[1-3]\b|\bBL\d{6}\b|blocked by (the )?recipient|"
     r"your (ip|domain) (has been|is) blocked",
     C.REPUTATION),
    # Rate and frequency limits (QQ, NetEase, Yahoo, Comcast, Mail.ru, generic)
    (r"frequency limit|\bip (is )?limited\b|concurrent (server )?connections|\bHL:(ICC|IFC|MEP)\b|"
     r"\bRP:(QRC|TRC|CEL)\b|\bMI:(SFQ|CEL)\b|\bRL\d{6}\b|rate ?limit|throttl|slow down|"
     r"too many (messages|mails|connections|concurrent|recipients|sessions)|"
     r"try (again )?later.*(volume|rate)|exceeded the (rate|message) limit|sending (rate|quota) exceeded|"
     r"temporarily deferred|server busy",
     C.RATE_LIMITED),
    # Mailbox full (Postfix, Exim, Exchange, QQ, NetEase)
    (r"(mailbox|inbox|account|recipient|user|mail ?box|storage)[^.;]{0,30}(full|over ?quota|"
     r"exceed\w* (its |the )?(quota|storage))|over ?quota|quota exceeded|insufficient (system )?storage|"
     r"disk quota|mailbox is full|空间已满|容量",
     C.MAILBOX_FULL),
    # Message size
    (r"message (size|length) exceeds|message too (large|big)|exceeded (the )?(max(imum)?|mail ?size)|"
     r"size limit|too large|message exceeds",
     C.TOO_LARGE),
    # TLS
    (r"\bstarttls\b|\btls\b|\bssl\b|certificate|encryption (required|needed)", C.TLS),
    # Bad domain before bad mailbox ("domain not found" names no user)
    (r"domain (not found|does not exist|name not found)|no such domain|unrouteable (address|domain)|"
     r"host (or domain name )?not found|\bnull MX\b|accepts no mail|domain is not (valid|configured)|"
     r"relay(ing)? (access )?denied|relay not permitted|not permitted to relay",
     C.BAD_DOMAIN),
    # Bad mailbox (Postfix, Exim, Exchange, Yahoo, QQ, NetEase, Sina)
    (r"user unknown|unknown user|no such (user|mailbox|recipient|account|address)|"
     r"user (not found|does not exist|doesn't exist|suspended|disabled|inactive)|"
     r"(mailbox|account|address|recipient) (not found|does not exist|doesn't exist|unavailable|disabled|"
     r"is disabled|not available|inactive|suspended)|invalid (recipient|mailbox|address|user)|"
     r"recipient (rejected|invalid|not found|unknown)|doesn't have a \S+ account|"
     r"not a valid (mailbox|recipient|user)|address rejected|no mailbox here|undeliverable address|"
     r"unknown (local part|recipient)|mailbox not found|user has moved|user not local|"
     r"mailbox name not allowed|用户不存在|收件人不存在",
     C.BAD_MAILBOX),
    # DNS and connections (our own texts and receivers')
    (r"\bdns\b|nxdomain|servfail|name (server|resolution)|lookup (failed|error)|could not resolve",
     C.DNS),
    (r"connection (refused|reset|timed out|lost|closed)|timed? ?out|no route to host|"
     r"network is unreachable|cannot talk to|did not answer|no mail server of|lost connection|greeting|"
     r"service (not available|unavailable), closing|no answer|can(not)? reach|could not connect|"
     r"cannot connect|connect(ion)? failed|unreachable",
     C.CONNECTION),
)  # fmt: skip
_TEXTS = tuple((re.compile(pattern, re.IGNORECASE), category) for pattern, category in TEXTS)

# Reply codes without an enhanced code or a matching text (RFC 5321).
REPLY_CODES: dict[int, Category] = {
    421: C.CONNECTION, 551: C.BAD_MAILBOX, 552: C.MAILBOX_FULL, 554: C.POLICY, 556: C.BAD_DOMAIN,
}  # fmt: skip
# A plain 550 or 553 whose text says nothing known is not taken as a bad mailbox: receivers answer them
# for blocklists and policies too, and a wrong guess would suppress a good address.

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")


def enhanced_code(text: str, status: str = "") -> str:
    """The enhanced status code in `status` (a DSN's Status field) or in the reply text, "" if none."""
    for source in (status, text):
        found = _ENHANCED.search(source or "")
        if found:
            return found.group(0)
    return ""


def by_text(text: str) -> Category | None:
    for pattern, category in _TEXTS:
        if pattern.search(text):
            return category
    return None


def categorize(code: int | None, text: str, status: str = "") -> Category:
    """The category of a refusal or failure: its reply `code` (None: no reply, e.g. a connection that
    failed), its `text`, and `status` (a DSN's Status field, when it has one)."""
    enhanced = enhanced_code(text, status)
    if enhanced:
        _class, subject, detail = enhanced.split(".")
        known = CODES.get(f"{subject}.{detail}")
        if known is not None and not _overridden(known, text):
            return known
        return by_text(text) or SUBJECTS.get(subject, C.OTHER)
    found = by_text(text)
    if found is not None:
        return found
    return REPLY_CODES.get(code, C.OTHER) if code else C.OTHER


# Specific codes that providers use for something else, recognised by their text: Microsoft answers
# recipient refusals with 5.4.1 and 5.1.10; many receivers answer blocklist refusals with 5.1.x or 5.7.x.
_SENDER_TEXTS = re.compile(
    r"spamhaus|spamcop|barracuda|\bblock ?list|\bblack ?list|\bRBL\b|\bDNSBL\b|banned sending IP|"
    r"\bS3140\b|\bS3150\b|listed (at|on|in|by)|\[TSS09\]|\[TS0[1-3]\]",
    re.IGNORECASE,
)


def _overridden(category: Category, text: str) -> bool:
    """A code-decided category a text contradicts: a "bad mailbox" code on a blocklist refusal."""
    return category in (C.BAD_MAILBOX, C.BAD_DOMAIN, C.POLICY, C.OTHER) and bool(_SENDER_TEXTS.search(text))


def invalid(category: str, permanent: bool) -> bool:
    """Whether a failure makes the address invalid (and suppressed): a permanent, recipient-caused one."""
    return permanent and category in RECIPIENT_CAUSED


def label(category: str) -> str:
    """The category's name as the console shows it."""
    try:
        return str(Category(category).label)
    except ValueError:
        return category
