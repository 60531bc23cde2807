"""nginx in front of the web processes, as docs/deploy.md sets them up. deploy/nginx/directmail.conf passes
`nginx -t` as published; with its ports moved to free ones on loopback it proxies to gunicorn started with
the web unit's own ExecStart line.

The official SDK's calls, which sign the Host header as the client configured it (port included), pass
through; probes reach /healthz and /readyz over plain http while the rest is sent to https; the address
the app judges IP protection by is the one nginx saw, and a client cannot choose it with its own
X-Forwarded-For; the access log keeps no query strings.
"""

import http.client
import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from alibabacloud_dm20151123 import models as dm
from alibabacloud_dm20151123.client import Client
from alibabacloud_tea_openapi import models as om
from alibabacloud_tea_util import models as util_models
from django.conf import settings

from accounts.access import access_key_create, ip_filter_add
from accounts.audit import SYSTEM
from sending.management.commands._bench import bench_sender, free_port, wait_for_port
from sending.models import Message
from sending.smtp.tls import self_signed_certificate
from tests.api.clients import post_form, signed_single_send
from tests.processes import database_url

pytestmark = [
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed here"),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),  # our own certificate
]

DEPLOY = settings.BASE_DIR / "deploy"
HOST = "mail.example.com"


def _unit_gunicorn_argv(port: int) -> list[str]:
    """The web unit's ExecStart, run from this checkout's virtualenv and bound to `port`."""
    text = (DEPLOY / "systemd" / "directmail-web.service").read_text().replace("\\\n", " ")
    line = next(row for row in text.splitlines() if row.startswith("ExecStart="))
    argv = shlex.split(line.removeprefix("ExecStart="))
    assert argv[0] == "/opt/directmail/.venv/bin/gunicorn"
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    argv[argv.index("--workers") + 1] = "2"  # the unit's four would only slow the test's start
    return [sys.executable, "-m", "gunicorn", *argv[1:]]


def _nginx_config(tmp_path, ports: dict[str, int] | None = None) -> Path:
    """deploy/nginx/directmail.conf with its files in `tmp_path` (and, given `ports`, listening on loopback
    ports "http" and "https", proxying to "upstream"), inside a minimal nginx.conf; the latter's path."""
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    self_signed_certificate(cert, key, HOST)
    site = (DEPLOY / "nginx" / "directmail.conf").read_text()
    replacements = [
        ("/etc/directmail/tls/fullchain.pem", str(cert)),
        ("/etc/directmail/tls/privkey.pem", str(key)),
        ("/var/log/nginx/directmail.access.log", str(tmp_path / "access.log")),
    ]
    if ports:
        replacements += [
            ("listen 80;", f"listen 127.0.0.1:{ports['http']};"),
            ("listen [::]:80;", ""),
            ("listen 443 ssl http2;", f"listen 127.0.0.1:{ports['https']} ssl http2;"),
            ("listen [::]:443 ssl http2;", ""),
            ("server 127.0.0.1:8000", f"server 127.0.0.1:{ports['upstream']}"),
        ]
    for published, here in replacements:
        assert published in site, published
        site = site.replace(published, here)
    (tmp_path / "site.conf").write_text(site)
    temp = tmp_path / "nginx-temp"
    temp.mkdir(exist_ok=True)
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    config = tmp_path / "nginx.conf"
    config.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")  # workers write their temp files under tmp_path
        + f"daemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        + "http {\n  access_log off;\n"
        + "".join(f"  {kind}_temp_path {temp}/{kind};\n" for kind in kinds)
        + f"  include {tmp_path}/site.conf;\n}}\n"
    )
    return config


def test_the_nginx_site_passes_nginx_t(tmp_path):
    config = _nginx_config(tmp_path)  # as published: ports 80 and 443, upstream 127.0.0.1:8000
    check = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "e.log")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert "test is successful" in check.stderr


@pytest.fixture
def front(tmp_path):
    """gunicorn behind nginx; yields the plain-http and https ports of nginx."""
    web_port, http_port, https_port = free_port(), free_port(), free_port()
    config = _nginx_config(tmp_path, {"http": http_port, "https": https_port, "upstream": web_port})
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"Q_SYNC", "PROMETHEUS_MULTIPROC_DIR"}},
        "DJANGO_SETTINGS_MODULE": "directmail.settings",
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS),
        "DATA_DIR": str(tmp_path / "data"),
        "DEBUG": "false",
        "DELIVERY_MODE": "capture",
        # What docs/deploy.md says to set behind nginx on the web host.
        "ALLOWED_HOSTS": f"{HOST},127.0.0.1",
        "TRUSTED_PROXIES": "127.0.0.1",
        "SECURE_PROXY_SSL_HEADER_NAME": "HTTP_X_FORWARDED_PROTO",
    }
    processes = [
        subprocess.Popen(
            _unit_gunicorn_argv(web_port),
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ),
        subprocess.Popen(
            ["nginx", "-p", str(tmp_path), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ),
    ]
    try:
        for port in (web_port, http_port, https_port):
            wait_for_port(port, f"the process for port {port}")
        yield http_port, https_port
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)


def _https(port: int, source: str = "127.0.0.1") -> http.client.HTTPSConnection:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return http.client.HTTPSConnection("127.0.0.1", port, source_address=(source, 0), context=context)


@pytest.mark.django_db(transaction=True)  # gunicorn reads what the test writes
def test_signed_calls_pass_through_nginx_and_client_addresses_are_nginxs(front, tmp_path):
    http_port, https_port = front
    sender = bench_sender("front@example.com", "front.example.com")
    key, secret = access_key_create(account=sender.account, actor=SYSTEM)
    for address in ("127.0.0.1", "127.0.0.2"):
        ip_filter_add(account=sender.account, network=address, actor=SYSTEM)

    plain = http.client.HTTPConnection("127.0.0.1", http_port)
    plain.request("GET", "/healthz", headers={"Host": HOST})
    probe = plain.getresponse()
    assert (probe.status, probe.read()) == (200, b"ok")
    plain.request("GET", "/readyz", headers={"Host": HOST})
    ready = plain.getresponse()
    assert (ready.status, json.loads(ready.read())["ready"]) == (200, True)
    plain.request("GET", "/domains/?page=2", headers={"Host": HOST})
    moved = plain.getresponse()
    moved.read()
    assert (moved.status, moved.headers["Location"]) == (301, f"https://{HOST}/domains/?page=2")

    # The Tea SDK signs `host: 127.0.0.1:<port>`: nginx must hand it on with the port.
    client = Client(
        om.Config(
            access_key_id=key.key_id,
            access_key_secret=secret,
            endpoint=f"127.0.0.1:{https_port}",
            protocol="https",
        )
    )
    sent = client.single_send_mail_with_options(
        dm.SingleSendMailRequest(
            account_name=sender.address,
            address_type=1,
            reply_to_address=False,
            to_address="first@dest.example",
            subject="Through the proxy",
            html_body="<p>Hello</p>",
        ),
        util_models.RuntimeOptions(ignore_ssl=True),
    )
    assert Message.objects.get(envelope__env_id=sent.body.env_id).rcpt == "first@dest.example"

    # IP protection sees the address nginx saw (127.0.0.2 is allowed, 127.0.0.3 is not) ...
    allowed = signed_single_send(key.key_id, secret, sender.address, "second@dest.example")
    answer = post_form(_https(https_port, source="127.0.0.2"), allowed)
    assert answer["status"] == 200, answer
    # ... and what a client writes in X-Forwarded-For does not change it.
    spoofed = signed_single_send(key.key_id, secret, sender.address, "third@dest.example")
    answer = post_form(_https(https_port, source="127.0.0.3"), spoofed, {"X-Forwarded-For": "127.0.0.2"})
    assert answer["Code"] == "InvalidIp.Forbidden", answer
    assert sorted(Message.objects.values_list("rcpt", flat=True)) == [
        "first@dest.example",
        "second@dest.example",
    ]

    # The core SDK's GET puts the message in the query string: the access log keeps the path only.
    query = signed_single_send(key.key_id, secret, sender.address, "fourth@dest.example", method="GET")
    connection = _https(https_port)
    connection.request("GET", "/?" + urlencode(query))
    connection.getresponse().read()
    deadline = time.monotonic() + 5  # nginx writes the access log line after the response has gone
    while True:
        log = (tmp_path / "access.log").read_text()
        if '"GET / HTTP/1.1"' in log or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert log.count('"GET / HTTP/1.1" 200') == 1 and '"POST / HTTP/1.1" 200' in log
    assert "dest.example" not in log and "Thank you" not in log
