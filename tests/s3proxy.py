"""A loopback HTTP proxy in front of the test S3 server, which a test switches into faults.

Why: the promise "a bucket that is unreachable, slow, answering 5xx or 403, or a
connection cut mid-upload loses nothing and pays nothing twice" (issue 13) can only be
tested by making a real S3 service misbehave at chosen moments. SeaweedFS cannot be told
to, so the tests point ``AWS_ENDPOINT_URL`` at this proxy and flip it:

- ``fail(503)`` / ``fail(403)``: answer with that status and an S3 error document,
  without asking the server;
- ``slow(seconds)``: forward, but hold each answer back that long;
- ``cut()``: forward half of a request body (a PUT by default), then drop both
  connections, as a network that fails mid-upload;
- ``down()`` / ``up()``: stop listening (connection refused), and listen again on the
  same port.

Each rule may be limited to a method, a part of the path and a number of requests.
Requests are forwarded byte for byte (a SigV4 signature covers the Host header, which
is kept), one request per connection (``Connection: close`` both ways), so the proxy
needs no HTTP/1.1 keep-alive bookkeeping. ``log`` records what it did with each request.
It listens on 127.0.0.1 only and connects only to the server it was given.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_REASONS = {403: "Forbidden", 500: "Internal Server Error", 503: "Service Unavailable", 502: "Bad Gateway"}
_CODES = {403: "AccessDenied", 500: "InternalError", 503: "ServiceUnavailable", 502: "BadGateway"}
_TIMEOUT = 60.0  # seconds any one socket operation may take


@dataclass
class Rule:
    kind: str  # "fail", "slow" or "cut"
    method: str | None = None  # e.g. "PUT"; None: any
    path_contains: str | None = None
    times: int | None = None  # how many requests it still applies to; None: until cleared
    status: int = 503
    seconds: float = 0.0

    def matches(self, method: str, target: str) -> bool:
        return ((self.method is None or self.method == method)
                and (self.path_contains is None or self.path_contains in target)
                and (self.times is None or self.times > 0))


@dataclass
class Entry:
    method: str
    target: str
    outcome: str  # "forwarded", "failed 503", "slowed", "cut"
    status: int | None = None  # the status the client was answered with, when it was
    length: int = 0  # the request body's Content-Length (a copy is a PUT with none)
    copy_source: str | None = None  # x-amz-copy-source: a server-side copy

    @property
    def key(self) -> str:
        """The object path (``/bucket/key``) without the query."""
        return self.target.partition("?")[0]


@dataclass
class S3Proxy:
    upstream: str  # http://127.0.0.1:PORT of the real server
    port: int = 0
    log: list[Entry] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- switching faults -----------------------------------------------------------------
    def fail(self, status: int, *, method: str | None = None, path_contains: str | None = None,
             times: int | None = None) -> None:
        self._add(Rule("fail", method, path_contains, times, status=status))

    def slow(self, seconds: float, *, method: str | None = None, path_contains: str | None = None,
             times: int | None = None) -> None:
        self._add(Rule("slow", method, path_contains, times, seconds=seconds))

    def cut(self, *, method: str = "PUT", path_contains: str | None = None, times: int | None = None) -> None:
        self._add(Rule("cut", method, path_contains, times))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def down(self) -> None:
        """Stop listening: new connections are refused until ``up()``."""
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it; close() alone would not
            except OSError:
                pass
            listener.close()

    def up(self) -> None:
        """Listen (again, on the same port once it has one)."""
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="s3proxy-accept").start()

    def close(self) -> None:
        self.down()

    def requests(self, method: str | None = None, outcome: str | None = None) -> list[Entry]:
        with self._lock:
            return [e for e in self.log if (method is None or e.method == method)
                    and (outcome is None or e.outcome.startswith(outcome))]

    # -- serving ----------------------------------------------------------------------------
    def _add(self, rule: Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def _take(self, method: str, target: str) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, target):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def _record(self, entry: Entry) -> None:
        with self._lock:
            self.log.append(entry)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed by down()
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True, name="s3proxy-conn").start()

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(_TIMEOUT)
        reader = conn.makefile("rb")
        try:
            head = _read_head(reader)
            if head is None:
                return
            method, target, headers = head
            rule = self._take(method, target)
            if rule is not None and rule.kind == "fail":
                if not _expects_continue(headers):
                    for _ in _body(reader, headers):  # read it all, so the answer is not lost to a reset
                        pass
                conn.sendall(_error_response(rule.status, method))
                self._record(Entry(method, target, f"failed {rule.status}", rule.status, *_described(headers)))
                return
            self._forward(conn, reader, method, target, headers, rule)
        except OSError:
            pass
        finally:
            reader.close()
            conn.close()

    def _forward(self, conn, reader, method: str, target: str, headers: list[tuple[str, str]],
                 rule: Rule | None) -> None:
        kind = rule.kind if rule is not None else None
        delay = rule.seconds if kind == "slow" else 0.0
        entry = Entry(method, target, {"slow": "slowed", "cut": "cut"}.get(kind, "forwarded"), None,
                      *_described(headers))
        self._record(entry)  # before the client can see an answer; the status is filled in as it passes
        up = socket.create_connection(self._upstream, timeout=_TIMEOUT)
        up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        relay = threading.Thread(target=_relay_answer, args=(up, conn, delay, entry), daemon=True)
        try:
            kept = [(k, v) for k, v in headers if k.lower() not in ("connection", "keep-alive")]
            up.sendall(f"{method} {target} HTTP/1.1\r\n".encode("latin-1")
                       + b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in kept)
                       + b"Connection: close\r\n\r\n")
            relay.start()
            cut_at = max(1, _content_length(headers) // 2) if kind == "cut" else None
            sent = 0
            for chunk in _body(reader, headers):
                if cut_at is not None and sent + len(chunk) >= cut_at:
                    up.sendall(chunk[:cut_at - sent])
                    break
                up.sendall(chunk)
                sent += len(chunk)
            if cut_at is not None:  # half the body sent (or a body too short to cut): drop both ends
                _reset(up)
                _reset(conn)
                return
            relay.join(_TIMEOUT + delay)
        finally:
            up.close()


def _relay_answer(up: socket.socket, conn: socket.socket, delay: float, entry: Entry) -> None:
    """Copy the server's answer to the client until the server closes (after ``delay``),
    noting its final status (not a ``100 Continue``) in ``entry`` before passing it on."""
    seen = b""
    try:
        while True:
            data = up.recv(65536)
            if not data:
                break
            if delay and not seen:
                time.sleep(delay)
            if entry.status is None and len(seen) < 8192:
                seen += data
                codes = [int(c) for c in re.findall(rb"HTTP/1\.[01] (\d{3})", seen) if int(c) != 100]
                if codes:
                    entry.status = codes[0]
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _read_head(reader) -> tuple[str, str, list[tuple[str, str]]] | None:
    line = reader.readline(65536)
    if not line:
        return None
    method, target, _version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers = []
    while True:
        line = reader.readline(65536)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
        headers.append((name.strip(), value.strip()))
    return method, target, headers


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _expects_continue(headers) -> bool:
    return (_header(headers, "expect") or "").lower() == "100-continue"


def _content_length(headers) -> int:
    value = _header(headers, "content-length")
    return int(value) if value and value.isdigit() else 0


def _described(headers) -> tuple[int, str | None]:
    return _content_length(headers), _header(headers, "x-amz-copy-source")


def _body(reader, headers):
    """The request body's raw bytes as they arrive (Content-Length or chunked framing)."""
    if "chunked" in (_header(headers, "transfer-encoding") or "").lower():
        while True:
            size_line = reader.readline(65536)
            if not size_line:
                return
            yield size_line
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    line = reader.readline(65536)
                    yield line
                    if line in (b"\r\n", b"\n", b""):
                        return
            remaining = size + 2
            while remaining:
                data = reader.read1(min(remaining, 65536))
                if not data:
                    return
                remaining -= len(data)
                yield data
    remaining = _content_length(headers)
    while remaining:
        data = reader.read1(min(remaining, 65536))
        if not data:
            return
        remaining -= len(data)
        yield data


def _error_response(status: int, method: str) -> bytes:
    code = _CODES.get(status, "ProxyFault")
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>fault injected by the test proxy</Message><RequestId>s3proxy</RequestId></Error>").encode()
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Fault')}\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\nx-amz-request-id: s3proxy\r\nConnection: close\r\n\r\n").encode()
    return head if method == "HEAD" else head + body


def _reset(sock: socket.socket) -> None:
    """Drop a connection abruptly (RST), as a failing network does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass
