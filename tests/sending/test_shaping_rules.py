"""The shipped reply rules against the replies providers really send."""

import pytest

from sending.shaping_rules import CLASSIFY, LOWER, SUSPEND, classify

REPLIES = [
    (
        "gmail",
        421,
        "4.7.28 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail originating "
        "from your IP address. To protect our users from spam, mail sent from your IP address has been "
        "temporarily rate limited.",
        "gmail-unsolicited-rate",
        SUSPEND,
    ),
    (
        "gmail",
        421,
        "4.7.0 Try again later, closing connection. (EHLO) rate limited",
        "gmail-rate-limited",
        LOWER,
    ),
    (
        "gmail",
        450,
        "4.2.1 The user you are trying to contact is receiving mail at a rate that prevents "
        "additional messages from being delivered.",
        "gmail-recipient-rate",
        CLASSIFY,
    ),
    (
        "microsoft",
        451,
        "4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.",
        "microsoft-ip-reputation",
        SUSPEND,
    ),
    (
        "microsoft",
        550,
        "5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your "
        "Internet service provider since part of their network is on our block list (S3140).",
        "microsoft-block-list",
        SUSPEND,
    ),
    (
        "microsoft",
        550,
        "5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
        "microsoft-block-list",
        SUSPEND,
    ),
    (
        "microsoft",
        550,
        "5.7.606 Access denied, banned sending IP [192.0.2.1].",
        "microsoft-block-list",
        SUSPEND,
    ),
    (
        "yahoo",
        421,
        "4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user "
        "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        "yahoo-tss04",
        SUSPEND,
    ),
    (
        "yahoo",
        553,
        "5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed.",
        "yahoo-tss09",
        SUSPEND,
    ),
    (
        "qq",
        550,
        "Ip frequency limited. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000725",
        "qq-frequency",
        SUSPEND,
    ),
    ("netease", 421, "HL:IFC connection refused by mx.163.com", "netease-ip-frequency", SUSPEND),
    ("netease", 451, "MI:SFQ Sender frequency limited", "netease-sender-frequency", LOWER),
    (
        "comcast",
        421,
        "resimta-ch2-05v.sys.comcast.net resimta-ch2-05v.sys.comcast.net 192.0.2.1 Too many "
        "sessions opened RL000001",
        "comcast-rate",
        LOWER,
    ),
    ("mailru", 421, "Ratelimit exceeded for mailbox. Try again later.", "mailru-ratelimit", SUSPEND),
    (
        "other:example.net",
        421,
        "Too many concurrent connections from your host",
        "too-many-connections",
        LOWER,
    ),
]


@pytest.mark.parametrize(("provider", "code", "text", "name", "action"), REPLIES)
def test_real_replies_find_their_rule(provider, code, text, name, action):
    rule = classify(provider, code, text)
    assert rule is not None and (rule.name, rule.action) == (name, action)


def test_a_rule_is_for_its_provider_and_ordinary_replies_match_none():
    assert classify("yahoo", 421, "4.7.28 unusual rate of unsolicited mail") is None
    assert classify("gmail", 550, "5.1.1 The email account that you tried to reach does not exist.") is None
    assert classify("gmail", 250, "2.0.0 OK") is None
