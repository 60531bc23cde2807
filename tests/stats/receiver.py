"""A webhook receiver on loopback for the tests: records each POST (headers, body), answers with the next
status of `replies` (200 when none are left), and can be told to hold a request without answering."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        server.received.append((dict(self.headers), body))
        server.arrived.set()
        server.release.wait(timeout=60)
        status = server.replies.pop(0) if server.replies else 200
        self.send_response(status)
        answer = server.answer.encode()
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


class Receiver:
    def __enter__(self) -> "Receiver":
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.received, self.server.replies, self.server.answer = [], [], "ok"
        self.server.arrived, self.server.release = threading.Event(), threading.Event()
        self.server.release.set()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.release.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    @property
    def received(self) -> list[tuple[dict, bytes]]:
        return self.server.received

    @property
    def replies(self) -> list[int]:
        return self.server.replies

    @replies.setter
    def replies(self, value: list[int]) -> None:
        self.server.replies = value

    def answer_with(self, text: str) -> None:
        self.server.answer = text

    def hold(self) -> None:
        """Keep requests waiting for an answer until `let_go()`."""
        self.server.release.clear()

    def let_go(self) -> None:
        self.server.release.set()

    def wait_for_request(self, timeout: float = 15) -> bool:
        return self.server.arrived.wait(timeout)
