"""What receivers' answers mean for the queue (issue 25, "reacting to replies"): the shipped rules and
the matcher. A rule names a provider (sending.providers; "" for any), optionally a reply code and an
enhanced status code prefix, and a regular expression on the text; its action is to suspend the provider
x egress address for a while, to lower its rate to a fraction for a while, or only to classify the reply.

The texts are the ones the providers document or send (their postmaster pages and real bounces); each
rule carries the class that shows in the log and metrics. Delivery does not act on them yet: the
suspensions and rate changes come with the rest of the shaping work.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

SUSPEND, LOWER, CLASSIFY = "suspend", "lower", "classify"


@dataclass(frozen=True)
class Rule:
    name: str
    provider: str  # "" for any provider
    pattern: str  # a regular expression searched in the reply text, case-insensitive
    action: str = CLASSIFY
    duration: timedelta = timedelta(0)
    fraction: float = 1.0  # for LOWER: the share of the normal rate
    code: int | None = None  # the reply code, when the rule needs it
    enhanced: str = ""  # an enhanced status code prefix ("4.7."), when the rule needs it
    kind: str = "other"  # rate limited, reputation, blocked, connections, ...

    def matches(self, provider: str, code: int | None, text: str) -> bool:
        if self.provider and self.provider != provider:
            return False
        if self.code is not None and code != self.code:
            return False
        if self.enhanced and not re.search(r"(?<![\d.])" + re.escape(self.enhanced), text):
            return False
        return re.search(self.pattern, text, re.IGNORECASE) is not None


HOUR = timedelta(hours=1)
RULES: tuple[Rule, ...] = (
    # Gmail: https://support.google.com/a/answer/3726730 (SMTP errors and codes)
    Rule(
        "gmail-unsolicited-rate",
        "gmail",
        r"4\.7\.28|unusual rate of unsolicited mail",
        SUSPEND,
        HOUR,
        kind="reputation",
    ),
    Rule(
        "gmail-rate-limited",
        "gmail",
        r"4\.7\.0.*(rate limit|try again later)",
        LOWER,
        HOUR,
        0.5,
        kind="rate limited",
    ),
    Rule("gmail-recipient-rate", "gmail", r"4\.2\.1.*receiving mail at a rate", kind="rate limited"),
    # Microsoft: https://learn.microsoft.com/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online
    Rule(
        "microsoft-ip-reputation",
        "microsoft",
        r"4\.7\.650|temporarily rate limited due to IP reputation",
        SUSPEND,
        HOUR,
        kind="reputation",
    ),
    Rule(
        "microsoft-block-list",
        "microsoft",
        r"\bS3140\b|5\.7\.708|5\.7\.606|banned sending IP",
        SUSPEND,
        timedelta(hours=24),
        kind="blocked",
    ),
    Rule(
        "microsoft-connections",
        "microsoft",
        r"4\.3\.2.*concurrent (server )?connections",
        LOWER,
        timedelta(minutes=30),
        0.5,
        kind="connections",
    ),
    # Yahoo / AOL: https://senders.yahooinc.com/smtp-error-codes
    Rule(
        "yahoo-tss04",
        "yahoo",
        r"\[TSS04\]|\[TS0[1-3]\]|temporarily deferred due to (unexpected volume|user complaints)",
        SUSPEND,
        HOUR,
        kind="reputation",
    ),
    Rule(
        "yahoo-tss09",
        "yahoo",
        r"\[TSS09\]|will be permanently deferred",
        SUSPEND,
        timedelta(hours=24),
        kind="blocked",
    ),
    # QQ / Tencent: https://service.mail.qq.com (frequency limits)
    Rule(
        "qq-frequency",
        "qq",
        r"(ip|connection|domain)? ?frequency limited|frequency limit",
        SUSPEND,
        timedelta(minutes=30),
        kind="rate limited",
    ),
    # NetEase: https://help.mail.163.com (HL: IP limits, MI: sender limits, RP: recipient limits)
    Rule(
        "netease-ip-frequency",
        "netease",
        r"\bHL:(IFC|ICC|MEP)\b",
        SUSPEND,
        timedelta(minutes=30),
        kind="rate limited",
    ),
    Rule("netease-ip-suspended", "netease", r"\bHL:(IHU|IPB)\b", SUSPEND, timedelta(hours=6), kind="blocked"),
    Rule(
        "netease-sender-frequency",
        "netease",
        r"\b(MI:SFQ|RP:QRC|RP:TRC|MI:CEL)\b",
        LOWER,
        HOUR,
        0.5,
        kind="rate limited",
    ),
    # Comcast: https://postmaster.comcast.net/smtp-error-codes.php
    Rule("comcast-rate", "comcast", r"\bRL\d{6}\b", LOWER, HOUR, 0.5, kind="rate limited"),
    Rule("comcast-blocked", "comcast", r"\bBL\d{6}\b", SUSPEND, timedelta(hours=24), kind="blocked"),
    # Mail.ru: https://help.mail.ru/developers/mailing_rules
    Rule(
        "mailru-ratelimit",
        "mailru",
        r"rate ?limit|too many (messages|mails)",
        SUSPEND,
        timedelta(minutes=30),
        kind="rate limited",
    ),
    # Any receiver
    Rule(
        "too-many-connections",
        "",
        r"too many (concurrent )?(connections|sessions)",
        LOWER,
        timedelta(minutes=15),
        0.5,
        kind="connections",
    ),
)


def classify(provider: str, code: int | None, text: str, rules: tuple[Rule, ...] = RULES) -> Rule | None:
    """The first rule that matches a reply (the provider's own before the ones for any provider)."""
    ordered = sorted(rules, key=lambda rule: rule.provider == "")
    return next((rule for rule in ordered if rule.matches(provider, code, text)), None)
