"""Our DKIM signer against dkimpy's verifier, on the awkward inputs canonicalization exists for."""

import dkim

from accounts.audit import SYSTEM
from sending.delivery.signing import relaxed_body, relaxed_header, sign
from sending.services.domains import domain_create
from tests.base import AccountTestCase


class DkimTests(AccountTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.domain = domain_create(account=cls.account, name="mail.acme.example", actor=SYSTEM)
        cls.key = cls.domain.active_dkim_key()

    def verify(self, signed: bytes) -> bool:
        record = f"v=DKIM1; k=rsa; p={self.key.public_key}".encode()
        return dkim.verify(signed, dnsfunc=lambda name, timeout=5: record)

    def test_awkward_messages_verify(self):
        cases = {
            "folded and spaced headers": (
                b"From: A  B <a@mail.acme.example>\r\nTo: x@example.org\r\n"
                b"Subject: a\r\n\t long\r\n  folded subject\r\n"
                b"List-Unsubscribe: <https://u.example/x>\r\n"
                b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                b"\r\nbody\r\n"
            ),
            "trailing whitespace and empty lines": (
                b"From: a@mail.acme.example\r\nSubject: x\r\n\r\nline  with   spaces \t \r\n\r\n\r\n\r\n"
            ),
            "duplicate header signs the last": (
                b"From: a@mail.acme.example\r\nSubject: first\r\nSubject: second\r\n\r\nx\r\n"
            ),
            "utf-8 header": "From: a@mail.acme.example\r\nTo: 用户@example.org\r\n\r\n你好\r\n".encode(),
        }
        for name, raw in cases.items():
            with self.subTest(case=name):
                signed = sign(raw, self.key, self.domain.name)
                self.assertTrue(self.verify(signed))
                self.assertTrue(signed.endswith(raw))

    def test_a_changed_signed_header_or_body_fails(self):
        raw = b"From: a@mail.acme.example\r\nSubject: hello\r\n\r\nbody\r\n"
        signed = sign(raw, self.key, self.domain.name)
        self.assertFalse(self.verify(signed.replace(b"Subject: hello", b"Subject: hellO")))
        self.assertFalse(self.verify(signed.replace(b"body", b"bodY")))
        header = signed.split(b"\r\n\r\n")[0].decode()
        self.assertIn("a=rsa-sha256", header)
        self.assertIn("c=relaxed/relaxed", header)
        self.assertIn(f"s={self.key.selector}", header)
        self.assertIn("h=from:subject;", header)

    def test_canonicalization_rules(self):
        self.assertEqual(relaxed_header(b"SubJect ", b" a \t b\r\n\tc  "), b"subject:a b c\r\n")
        self.assertEqual(relaxed_body(b"a  b \r\nc\r\n\r\n"), b"a b\r\nc\r\n")
        self.assertEqual(relaxed_body(b"\r\n\r\n"), b"")
