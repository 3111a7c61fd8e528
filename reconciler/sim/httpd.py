"""The HTTP/1.1 front: bytes in, a ``Request``; an ``Outcome``, bytes out.

Stdlib ``ThreadingHTTPServer`` (one thread per connection) with keep-alive and
TCP_NODELAY (without it every answer stalls ~40 ms on Nagle + delayed ACK), a 30 s
timeout on every socket operation, bodies capped at 64 MiB, a ``Date`` header on every
answer (from the server clock, so clients can detect skew) and ``Content-Length``
always. Quiet: no request log, no tracebacks on stderr. ``stop()`` is bounded: it
stops accepting, shuts down open keep-alive connections and joins their threads.
"""

from __future__ import annotations

import email.utils
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from urllib.parse import parse_qsl, urlsplit

from reconciler.sim import admin, dispatch, routes
from reconciler.sim.app import Request, SimApp, json_reply

MAX_BODY = 64 * 1024 * 1024
SOCKET_TIMEOUT = 30.0


class _BodyError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class SimRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = SOCKET_TIMEOUT
    server_version = "reconciler-sim"
    sys_version = ""

    server: "SimHTTPServer"

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature; quiet by design
        pass

    def version_string(self) -> str:
        return self.server_version

    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(self.server.app.now() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    # -- reading -----------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise _BodyError(400, "bad Content-Length") from None
        if length < 0:
            raise _BodyError(400, "bad Content-Length")
        if length > MAX_BODY:
            raise _BodyError(413, "body too large")
        body = self.rfile.read(length)
        if len(body) != length:
            raise _BodyError(400, "body shorter than Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BodyError(400, "bad chunk size") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            if len(out) + size > MAX_BODY:
                raise _BodyError(413, "body too large")
            out += self.rfile.read(size)
            self.rfile.readline(1024)

    def _request(self, body: bytes) -> Request:
        parts = urlsplit(self.path)
        host = self.headers.get("Host") or f"{self.server.url_host}:{self.server.server_port}"
        return Request(
            method=self.command, target=self.path, path=parts.path,
            query=dict(reversed(parse_qsl(parts.query, keep_blank_values=True))),
            headers=self.headers, body=body, client_ip=self.client_address[0],
            base_url=f"http://{host}",
        )

    # -- writing -----------------------------------------------------------------------
    def _send(self, reply, *, truncate: bool = False) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if truncate or self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body[: len(reply.body) // 2] if truncate else reply.body)
        if truncate:
            self.close_connection = True

    def _dispatch(self) -> None:
        app = self.server.app
        try:
            body = self._read_body()
        except _BodyError as exc:
            self.close_connection = True
            self._send(json_reply({"detail": str(exc)}, status=exc.status, ok=False))
            return
        req = self._request(body)
        if req.path.startswith(admin.PREFIX):
            reply = admin.handle(app, req)
            if reply is not None:
                self._send(reply)
                return
        outcome = dispatch.run(app, routes.match(req.method, req.path), req)
        app.sleep(outcome.delay)
        if outcome.mode == dispatch.CLOSE or outcome.reply is None or app.stopping.is_set():
            self.close_connection = True
            return
        self._send(outcome.reply, truncate=outcome.mode == dispatch.TRUNCATE)


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SimApp):
        self.app = app
        self._active: dict[socket.socket, threading.Thread] = {}
        self._active_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, SimRequestHandler)

    @property
    def url_host(self) -> str:
        host = self.server_address[0]
        if host in ("", "0.0.0.0"):
            return "127.0.0.1"
        if host == "::":
            return "[::1]"
        return f"[{host}]" if ":" in host else host

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall on DNS.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def process_request(self, request, client_address) -> None:
        thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                  name="reconciler-sim-conn", daemon=True)
        with self._active_lock:
            self._active[request] = thread
        thread.start()

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._active_lock:
                self._active.pop(request, None)

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up is not our problem; stay quiet

    def close_connections(self, timeout: float) -> None:
        """Shut down every open connection and wait (bounded) for its thread."""
        with self._active_lock:
            active = list(self._active.items())
        for sock, _ in active:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for _, thread in active:
            thread.join(max(0.0, deadline - time.monotonic()))
