"""A bare SMTP client over a socket, for what smtplib will not send: pipelined commands before STARTTLS,
bare line ends inside DATA."""

import base64
import socket
import ssl

from tests.smtp.conftest import PASSWORD, client_tls


class RawSession:
    def __init__(self, port: int, *, source: str = "127.0.0.1"):
        self.sock: socket.socket | ssl.SSLSocket = socket.create_connection(
            ("127.0.0.1", port), timeout=10, source_address=(source, 0)
        )
        self.buffer = b""
        self.greeting = self.reply()

    def reply(self) -> str:
        """One whole reply (all its lines), as text."""
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return "\n".join(lines) or "(closed)"
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            lines.append(line.decode())
            if len(line) < 4 or line[3:4] != b"-":
                return "\n".join(lines)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, line: str) -> str:
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def starttls(self) -> None:
        self.command("EHLO client.test")
        assert self.command("STARTTLS").startswith("220")
        self.sock = client_tls().wrap_socket(self.sock, server_hostname="localhost")
        self.command("EHLO client.test")

    def login(self, user: str = "noreply@mail.example.com", password: str = PASSWORD) -> str:
        blob = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.command(f"AUTH PLAIN {blob}")

    def close(self) -> None:
        self.sock.close()
