"""A local webhook receiver on 127.0.0.1 for the notification tests: records each
request body; ``mode`` "ok" answers 200, "fail" 500, "hang" never finishes its answer
until ``release()`` (or ``stop()``).

"hang" is the worst webhook there is: it starts an answer and then trickles one header
byte at a time, so no per-read client timeout ever fires and the sender is held for as
long as the receiver likes. A test that finishes an apply while such a webhook is still
holding the request has shown, without timing anything, that the webhook did not hold
up the apply. ``answered`` counts the answers finished, so a test can check that the
request was still held when the apply ended.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TRICKLE = 0.25  # seconds between two bytes of a hanging answer: well under any client read timeout


class Receiver:
    def __init__(self, mode: str = "ok"):
        self.mode = mode
        self.bodies: list[dict] = []
        self.answered = 0
        self.got = threading.Condition()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.got:
                    receiver.bodies.append(json.loads(data))
                    receiver.got.notify_all()
                try:
                    if receiver.mode == "hang":
                        self._trickle()
                    else:
                        self.send_response(500 if receiver.mode == "fail" else 200)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                except OSError:  # the client gave up (its process ended): nothing to answer
                    self.close_connection = True
                    return
                with receiver.got:
                    receiver.answered += 1
                    receiver.got.notify_all()

            def _trickle(self):
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Wait: ")
                self.wfile.flush()
                while not receiver._release.wait(TRICKLE):  # paced, and ends at once when released
                    self.wfile.write(b".")
                    self.wfile.flush()
                self.wfile.write(b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/s3cr3t-token"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict]:
        """The bodies once ``n`` have arrived (or the bodies so far after ``timeout``: a guard, not a pace)."""
        with self.got:
            self.got.wait_for(lambda: len(self.bodies) >= n, timeout)
            return list(self.bodies)

    def release(self) -> None:
        """Let every held answer finish."""
        self._release.set()

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

