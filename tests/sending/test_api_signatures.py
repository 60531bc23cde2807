"""The two signature schemes: the captured vector of API-COMPAT.md, and canonicalization round trips."""

import hashlib
from urllib.parse import parse_qsl, unquote_plus

from django.test import SimpleTestCase
from hypothesis import given
from hypothesis import strategies as st

from sending.api import signatures

# Captured from the official Tea SDK with signature_algorithm="v2" (API-COMPAT.md).
QUERY = (
    "Action=SingleSendMail&Format=json&Version=2015-11-23&Timestamp=2026-11-28T19%3A42%3A44Z"
    "&SignatureNonce=a159c3ba20dbd84291e7feae608cbac3&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0"
    "&AccessKeyId=testAKID&Signature=AkqAjGUlgfxlxTKl0AQMc53%2B4RI%3D"
)
BODY = (
    "AccountName=noreply%40mail.example.com&AddressType=1&ClickTrace=1&FromAlias=Ops"
    "&HtmlBody=%3Cp%3EHello+%26+welcome%3C%2Fp%3E&ReplyToAddress=False&Subject=Hi+there+~%2A&TagName=tag1"
    "&TextBody=Hello&ToAddress=a%40example.org%2Cb%40example.org"
)


class FixedVectorTests(SimpleTestCase):
    def test_the_captured_v2_request_verifies(self):
        query = dict(parse_qsl(QUERY, keep_blank_values=True))
        signature = query.pop("Signature")
        params = {**query, **dict(parse_qsl(BODY, keep_blank_values=True))}
        self.assertEqual(params["HtmlBody"], "<p>Hello & welcome</p>")  # '+' in a form body is a space
        self.assertTrue(signatures.rpc_verify("POST", params, "testSecret", signature))
        self.assertFalse(signatures.rpc_verify("POST", params, "wrongSecret", signature))
        self.assertFalse(signatures.rpc_verify("GET", params, "testSecret", signature))
        self.assertFalse(
            signatures.rpc_verify("POST", {**params, "Subject": "Hi there"}, "testSecret", signature)
        )

    def test_encoding_rules(self):
        self.assertEqual(signatures.enc("a b*~/é"), "a%20b%2A~%2F%C3%A9")

    def test_authorization_header(self):
        fields = signatures.parse_authorization(
            "ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=host;x-acs-date,Signature=ab12"
        )
        self.assertEqual(
            fields, {"Credential": "AK1", "SignedHeaders": "host;x-acs-date", "Signature": "ab12"}
        )
        self.assertIsNone(signatures.parse_authorization("Basic abc"))
        self.assertIsNone(signatures.parse_authorization("ACS3-HMAC-SHA256 Credential=AK1"))

    def test_acs3_covers_body_headers_and_query(self):
        headers = {"host": "127.0.0.1:8000", "x-acs-date": "2026-11-28T19:42:44Z"}
        request = signatures.acs3_canonical_request(
            "POST", {"a": "1"}, headers, ["host", "x-acs-date"], b"x=1"
        )
        signature = signatures.acs3_signature(request, "s3cret")
        self.assertTrue(signatures.acs3_verify(request, "s3cret", signature.upper()))
        for changed in (
            signatures.acs3_canonical_request("POST", {"a": "2"}, headers, ["host", "x-acs-date"], b"x=1"),
            signatures.acs3_canonical_request("POST", {"a": "1"}, headers, ["host", "x-acs-date"], b"x=2"),
            signatures.acs3_canonical_request(
                "POST", {"a": "1"}, {**headers, "host": "evil"}, ["host", "x-acs-date"], b"x=1"
            ),
        ):
            self.assertFalse(signatures.acs3_verify(changed, "s3cret", signature))
        self.assertIn(hashlib.sha256(b"x=1").hexdigest(), request)


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


class RoundTripTests(SimpleTestCase):
    @given(st.dictionaries(text.filter(bool), text, max_size=6))
    def test_rpc_canonical_string_survives_encoding(self, params):
        """What a client signs over encoded parameters, the server recomputes after decoding them."""
        wire = "&".join(f"{signatures.enc(k)}={signatures.enc(v)}" for k, v in params.items())
        decoded = dict(parse_qsl(wire, keep_blank_values=True)) if wire else {}
        self.assertEqual(decoded, params)
        signature = signatures.rpc_signature("POST", params, "k")
        self.assertTrue(signatures.rpc_verify("POST", decoded, "k", signature))

    @given(text)
    def test_enc_is_reversible_and_safe(self, value):
        encoded = signatures.enc(value)
        self.assertEqual(unquote_plus(encoded.replace("+", "%2B")), value)
        self.assertTrue(all(c.isalnum() or c in "-_.~%" for c in encoded))
