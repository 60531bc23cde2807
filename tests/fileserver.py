"""An HTTPS file server on loopback with its own test CA, for what the server fetches (API Attachments,
MTA-STS policies).

with FileServer() as files:                      # https://127.0.0.1:<port>/, certificate for 127.0.0.1
    FileServer(names=("mta-sts.example",), ca=CertAuthority(folder))   # other names, a CA shared with a sink
    url = files.add("/r.pdf", pdf_bytes, "application/pdf")
    files.redirect("/old", "/r.pdf")
    monkeypatch.setenv("SSL_CERT_FILE", str(files.ca_file))   # make the test CA the trusted one
    files.requests                               # the paths asked for, in order
    files.posted                                 # (path, headers, body) of each POST (200 at an added path)
"""

import datetime
import ipaddress
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_KEY_USAGES = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
    "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
)  # fmt: skip


class CertAuthority:
    """A certificate authority of the tests: issues server certificates for the names asked, into `folder`.
    Trusted where a test sets SSL_CERT_FILE to `ca_file`."""

    def __init__(self, folder: Path):
        self.folder = folder
        now = datetime.datetime.now(datetime.UTC)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "directmail test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    **{**dict.fromkeys(_KEY_USAGES, False), "key_cert_sign": True, "crl_sign": True}
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.issued = 0

    def issue(self, *names: str, expired: bool = False) -> tuple[Path, Path, x509.Certificate]:
        """A certificate for `names` (DNS names or IP addresses): (cert.pem, key.pem, the certificate)."""
        now = datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        alternatives: list[x509.GeneralName] = []
        for name in names:
            try:
                alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alternatives.append(x509.DNSName(name))
        start = now - datetime.timedelta(days=10 if expired else 1)
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(
                now - datetime.timedelta(days=1) if expired else now + datetime.timedelta(days=30)
            )
            .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.issued += 1
        cert_path, key_path = self.folder / f"cert{self.issued}.pem", self.folder / f"key{self.issued}.pem"
        cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cert_path, key_path, leaf


class FileServer:
    def __init__(self, names: tuple[str, ...] = ("127.0.0.1", "files.test"), ca: CertAuthority | None = None):
        self.files: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[str] = []
        self.posted: list[tuple[str, dict[str, str], bytes]] = []  # (path, headers, body) of each POST
        self._folder = tempfile.TemporaryDirectory()
        self.ca = ca or CertAuthority(Path(self._folder.name))
        self.ca_file = self.ca.ca_file
        cert, key, _leaf = self.ca.issue(*names)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                status, headers, body = server.files.get(self.path, (404, {}, b"not found"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.posted.append((self.path, dict(self.headers), body))
                self.send_response(200 if self.path in server.files else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.httpd.server_address[1]}"

    def add(self, path: str, body: bytes, content_type: str = "application/octet-stream") -> str:
        self.files[path] = (200, {"Content-Type": content_type}, body)
        return self.base + path

    def redirect(self, path: str, to: str) -> str:
        self.files[path] = (302, {"Location": to}, b"")
        return self.base + path

    def __enter__(self) -> "FileServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._folder.cleanup()
