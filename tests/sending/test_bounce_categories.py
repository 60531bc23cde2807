"""Bounce categories from real-world replies and DSN diagnostics: Gmail, Microsoft (Outlook.com and
Exchange Online), Yahoo / AOL, QQ, NetEase, Postfix, Exim, Exchange, and our own texts; and what
suppresses."""

import pytest

from sending.bounce_categories import Category, categorize, enhanced_code, invalid

C = Category

# (reply code or None, the text as received, the expected category)
CORPUS = [
    # Gmail
    (550, "5.1.1 The email account that you tried to reach does not exist. Please try double-checking the "
          "recipient's email address for typos or unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser",
     C.BAD_MAILBOX),
    (552, "5.2.2 The email account that you tried to reach is over quota. Please direct the recipient to "
          "https://support.google.com/mail/?p=OverQuotaPerm", C.MAILBOX_FULL),
    (452, "4.2.2 The email account that you tried to reach is over quota.", C.MAILBOX_FULL),
    (552, "5.3.4 Your message exceeded Google's message size limits.", C.TOO_LARGE),
    (421, "4.7.28 [203.0.113.5] Our system has detected an unusual rate of unsolicited mail originating "
          "from your IP address. To protect our users from spam, mail sent from your IP address has been "
          "temporarily rate limited.", C.RATE_LIMITED),
    (450, "4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional "
          "messages from being delivered.", C.RATE_LIMITED),
    (550, "5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all "
          "senders to authenticate with either SPF or DKIM.", C.AUTHENTICATION),
    (421, "4.7.27 Your email has been rate limited because SPF authentication didn't pass for this message.",
     C.AUTHENTICATION),
    (550, "5.7.25 [203.0.113.5] The IP address sending this message does not have a PTR record setup.",
     C.AUTHENTICATION),
    (550, "5.7.1 [203.0.113.5] Our system has detected that this message is likely unsolicited mail. To "
          "reduce the amount of spam sent to Gmail, this message has been blocked.", C.POLICY),
    (530, "5.7.0 Must issue a STARTTLS command first.", C.TLS),
    (550, "5.7.1 [203.0.113.5] The IP you're using to send mail is not authorized to send email directly "
          "to our servers. Please use the SMTP relay at your service provider instead.", C.POLICY),
    # Microsoft: Outlook.com and Exchange Online
    (550, "5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
          "[AM4PEPF00025F9A.eurprd.prod]", C.BAD_MAILBOX),
    (550, "5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT012.eop-EUR03.prod]",
     C.BAD_MAILBOX),
    (550, "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", C.BAD_MAILBOX),
    (550, "5.7.1 Unfortunately, messages from [203.0.113.5] weren't sent. Please contact your Internet "
          "service provider since part of their network is on our block list (S3150).", C.REPUTATION),
    (550, "SC-001 (BAY004-MC1F12) Unfortunately, messages from 203.0.113.5 weren't sent. Please contact your "
          "Internet service provider since part of their network is on our block list.", C.REPUTATION),
    (451, "4.7.650 The mail server [203.0.113.5] has been temporarily rate limited due to IP reputation. "
          "For e-mail delivery information, see https://postmaster.live.com (S775)", C.REPUTATION),
    (550, "5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.", C.REPUTATION),
    (550, "5.7.606 Access denied, banned sending IP [203.0.113.5]. To request removal from this list please "
          "visit https://sender.office.com/", C.REPUTATION),
    (550, "5.7.509 Access denied, sending domain [example.com] does not pass DMARC verification and has a "
          "DMARC policy of reject.", C.AUTHENTICATION),
    (550, "5.7.515 Access denied, sending domain [example.com] doesn't meet the required authentication "
          "level.", C.AUTHENTICATION),
    (421, "4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing "
          "transmission channel", C.RATE_LIMITED),
    (451, "4.7.500 Server busy. Please try again later from [203.0.113.5]. (AS750)", C.RATE_LIMITED),
    (552, "5.3.4 Message size exceeds fixed maximum message size", C.TOO_LARGE),
    (554, "5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuota",
     C.MAILBOX_FULL),
    (550, "5.7.350 Remote server returned message detected as spam -> 554 5.7.1 Message rejected",
     C.POLICY),
    # Yahoo / AOL
    (421, "4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume or user "
          "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", C.REPUTATION),
    (553, "5.7.2 [TSS09] All messages from 203.0.113.5 will be permanently deferred; Retrying will NOT "
          "succeed. See https://postmaster.yahooinc.com/error-codes", C.REPUTATION),
    (554, "delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - "
          "mta4030.mail.gq1.yahoo.com", C.BAD_MAILBOX),
    (554, "5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes",
     C.POLICY),
    (552, "1 Requested mail action aborted, mailbox full", C.MAILBOX_FULL),
    (550, "5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all "
          "senders to authenticate with either SPF or DKIM.", C.AUTHENTICATION),
    # QQ / Tencent
    (550, "Mailbox not found or access denied", C.BAD_MAILBOX),
    (550, "Ip frequency limited [http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000725]",
     C.RATE_LIMITED),
    (550, "Domain frequency limited", C.RATE_LIMITED),
    (550, "Mail content denied. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000726",
     C.POLICY),
    (552, "Message is too large", C.TOO_LARGE),
    (550, "The mailbox is full", C.MAILBOX_FULL),
    # NetEase (163, 126, yeah.net)
    (550, "User not found: someone@163.com", C.BAD_MAILBOX),
    (554, "DT:SPM 163 smtp14,EsCowADX_7Y4 1616390712, please see http://mail.163.com/help/help_spam_16.htm"
          "?ip=203.0.113.5&hostid=smtp14&time=1616390712", C.POLICY),
    (451, "MI:SFQ Sender frequency limit exceeded", C.RATE_LIMITED),
    (554, "HL:IHU 163 mx14, IP in blacklist, please see http://mail.163.com/help/help_spam_16.htm",
     C.REPUTATION),
    (550, "User suspended: someone@126.com", C.BAD_MAILBOX),
    (552, "Requested mail action aborted: exceeded mailsize limit", C.TOO_LARGE),
    # Postfix
    (550, "5.1.1 <someone@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
     C.BAD_MAILBOX),
    (550, "5.1.2 <someone@nowhere.example>: Recipient address rejected: Domain not found", C.BAD_DOMAIN),
    (450, "4.1.8 <noreply@mail.example.com>: Sender address rejected: Domain not found", C.POLICY),
    (554, "5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org; "
          "https://www.spamhaus.org/query/ip/203.0.113.5", C.REPUTATION),
    (554, "5.7.1 <someone@example.org>: Relay access denied", C.BAD_DOMAIN),
    (450, "4.7.1 Client host rejected: cannot find your hostname, [203.0.113.5]", C.AUTHENTICATION),
    (452, "4.2.2 <someone@example.org>: Recipient address rejected: Mailbox full", C.MAILBOX_FULL),
    (421, "4.4.2 mx.example.org Error: timeout exceeded", C.CONNECTION),
    (451, "4.3.0 Error: queue file write error", C.OTHER),
    (550, "5.7.1 Message rejected due to content restrictions", C.POLICY),
    # Exim
    (550, "Unrouteable address", C.BAD_DOMAIN),
    (550, "No Such User Here", C.BAD_MAILBOX),
    (550, "rejected because 203.0.113.5 is in a black list at zen.spamhaus.org", C.REPUTATION),
    (552, "Message size exceeds maximum permitted", C.TOO_LARGE),
    (550, "Verification failed for <noreply@mail.example.com>\nNo Such User Here\nSender verify failed",
     C.AUTHENTICATION),
    (550, "Administrative prohibition", C.POLICY),
    # Exchange (on premises)
    (550, "5.1.1 RESOLVER.ADR.RecipNotFound; not found", C.BAD_MAILBOX),
    (550, "5.4.316 Message expired, connection refused(Socket error code 10061)", C.CONNECTION),
    (530, "5.7.57 Client was not authenticated to send anonymous mail during MAIL FROM", C.AUTHENTICATION),
    (550, "5.7.520 Access denied, Your organization does not allow external forwarding.", C.POLICY),
    # Generic, and ours
    (421, "Too many concurrent connections from your IP, try again later", C.RATE_LIMITED),
    (550, "Requested action not taken: something we cannot read", C.OTHER),  # a guess would suppress
    (550, "5.1.2 domain nowhere.example does not exist", C.BAD_DOMAIN),
    (556, "5.1.10 null-mx.example accepts no mail (null MX)", C.BAD_DOMAIN),
    (None, "4.4.3 The DNS operation timed out.", C.DNS),
    (None, "cannot talk to mx.example.org (192.0.2.1:25): [Errno 111] Connection refused", C.CONNECTION),
    (None, "mx.example.org does not offer STARTTLS", C.TLS),
    (None, "internal error: KeyError", C.OTHER),
    (None, "sending domain mail.example.com is failing; held", C.OTHER),
    (None, "no mail server of example.org answered", C.CONNECTION),
]  # fmt: skip


@pytest.mark.parametrize(("code", "text", "expected"), CORPUS, ids=[f"{c}-{t[:40]}" for c, t, _e in CORPUS])
def test_real_replies_get_their_category(code, text, expected):
    assert categorize(code, text) == expected


def test_a_dsn_status_field_counts_before_its_text():
    assert categorize(None, "smtp; 550 sorry", status="5.1.1") == C.BAD_MAILBOX
    assert categorize(None, "smtp; 552 no room", status="5.2.2") == C.MAILBOX_FULL
    assert enhanced_code("host said: 550 5.7.1 no", "") == "5.7.1"
    assert enhanced_code("from 203.0.113.5 and 5.6.7.8", "") == ""  # addresses are no codes


def test_only_permanent_recipient_caused_failures_make_an_address_invalid():
    assert invalid(C.BAD_MAILBOX, permanent=True) and invalid(C.BAD_DOMAIN, permanent=True)
    assert not invalid(C.BAD_MAILBOX, permanent=False)
    for sender_side in (C.REPUTATION, C.POLICY, C.AUTHENTICATION, C.RATE_LIMITED, C.OTHER, C.MAILBOX_FULL):
        assert not invalid(sender_side, permanent=True)
