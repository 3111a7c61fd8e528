"""A local webhook receiver on 127.0.0.1 for the notification tests: records each
request body; ``mode`` "ok" answers 200, "fail" 500, "hang" never answers until stopped."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, mode: str = "ok"):
        self.mode = mode
        self.bodies: list[dict] = []
        self.got = threading.Condition()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.got:
                    receiver.bodies.append(json.loads(data))
                    receiver.got.notify_all()
                if receiver.mode == "hang":
                    receiver._release.wait(30)
                    return
                self.send_response(500 if receiver.mode == "fail" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/s3cr3t-token"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict]:
        with self.got:
            self.got.wait_for(lambda: len(self.bodies) >= n, timeout)
            return list(self.bodies)

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
