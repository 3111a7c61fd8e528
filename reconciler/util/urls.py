"""URLs that may carry a secret: parsed once, printed only redacted, secrets scrubbed.

Why a module of its own: the state URL (``RECONCILER_STATE_URL``), the vendor endpoints,
``AWS_ENDPOINT_URL`` and the webhooks all come from the environment and any of them may
hold a password, a token in its user part, or a credential in its query. Each place that
prints one goes through ``redact`` here, so there is one rule for all of them; a message
quoting a driver's or library's exception goes through ``scrub``.

The parser is ours, not ``urllib``'s, because people paste passwords unescaped: with an
``@``, ``:``, ``/``, ``?``, ``#`` or ``%`` in the password, the *last* ``@`` separates the
user part from the host (``urllib`` agrees on that, libpq takes the first one and then
quotes the rest of the password back as a host name). The user part is split at its
first ``:`` into user and password, both percent-decoded. A URL that cannot be read
raises ``UrlError``, whose message never quotes any part of the URL.

The redaction rule: ``scheme://user:***@host:port/path`` — the user name stays (it
names the database role), the password is ``***``, the query and the fragment are
dropped (libpq takes ``?password=``, a webhook ``?access_token=``, a presigned URL its
signature). What cannot be parsed prints as ``scheme://***``. (A
token in the user part of an endpoint is refused where the endpoint is checked; a
webhook URL, a secret as a whole, is never printed at all.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

MASK = "***"
SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# the names of query parameters (and headers, JSON keys: util/logs) whose value is a credential
SECRET_NAME = r"[\w-]*(?:signature|token|secret|password|passwd|pwd|api[_-]?key|access[_-]?key|credential|authorization|auth|sig|key)[\w-]*"
_SECRET_PARAM = re.compile(rf"^{SECRET_NAME}$", re.IGNORECASE)
_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+(?:%[\w.~-]+)?\]|[\w.~%!$&'()*+,;=-]*)$")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")  # control characters and spaces: never in a URL
_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
SCRUB_MIN = 4  # a fragment of a secret this long (or the whole secret) is masked in a message


class UrlError(ValueError):
    """A URL that cannot be read; the message says why and never quotes the URL."""


@dataclass(frozen=True)
class Url:
    """One parsed URL; ``user`` and ``password`` are percent-decoded, the rest as written."""

    scheme: str  # lower case
    userinfo: str | None  # as written (None: no ``@``)
    user: str | None
    password: str | None
    host: str  # as written (``[::1]`` keeps its brackets; may be empty: a Unix socket)
    port: int | None
    path: str
    query: str
    fragment: str

    @property
    def hostname(self) -> str:
        """The host without IPv6 brackets, lower case."""
        return self.host[1:-1].lower() if self.host.startswith("[") else self.host.lower()

    @property
    def netloc(self) -> str:
        """``host[:port]``, without the user part."""
        return self.host + (f":{self.port}" if self.port is not None else "")

    def without_userinfo(self) -> str:
        """The URL as written but with no user part (what a driver is given beside the
        user and password as keywords)."""
        return self._render(userinfo="", query=self.query, fragment=self.fragment)

    def redacted(self) -> str:
        """The URL safe to print (the module's rule)."""
        if self.userinfo is None:
            shown = ""
        elif self.password is not None:
            shown = f"{self.userinfo.partition(':')[0]}:{MASK}@"
        else:
            shown = f"{self.userinfo}@"
        return self._render(userinfo=shown, query="", fragment="")

    def secrets(self) -> list[str]:
        """What this URL holds that no output may show: the password (as written and
        decoded) and the credential query values."""
        found = []
        if self.userinfo is not None and self.password is not None:
            found += [self.userinfo.partition(":")[2], self.password]
        for pair in self.query.split("&"):
            name, sep, value = pair.partition("=")
            if sep and value and _SECRET_PARAM.match(unquote(name)):
                found += [value, unquote(value)]
        return [s for s in dict.fromkeys(found) if s]

    def _render(self, *, userinfo: str, query: str, fragment: str) -> str:
        text = f"{self.scheme}://{userinfo}{self.netloc}{self.path}"
        text += f"?{query}" if query else ""
        return text + (f"#{fragment}" if fragment else "")


def has_scheme(text: str) -> bool:
    return bool(SCHEME.match(text))


def parse(text: str) -> Url:
    """``text`` as a Url; UrlError (never quoting it) when it has no ``scheme://``, a
    control character or space, a host that is not one, or a port that is not a number."""
    found = SCHEME.match(text)
    if not found:
        raise UrlError("it has no scheme (such as https or postgresql) before its host")
    if _CONTROL.search(text):
        raise UrlError("it holds a space or a control character")
    rest = text[found.end():]
    userinfo = None
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1:]
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    hostport, tail = rest[:cut], rest[cut:]
    tail, _, fragment = tail.partition("#")
    path, _, query = tail.partition("?")
    host, port = _split_port(hostport)
    user = password = None
    if userinfo is not None:
        raw_user, sep, raw_password = userinfo.partition(":")
        user = unquote(raw_user)
        password = unquote(raw_password) if sep else None
    return Url(found.group(1).lower(), userinfo, user, password, host, port, path, query, fragment)


def http_problem(text: str) -> str | None:
    """Why ``text`` is not an http(s) URL with a host (quoting none of it), or None: the
    check of a webhook URL, a secret as a whole (``notify``, ``doctor``)."""
    try:
        parsed = parse(text)
    except UrlError as exc:
        return str(exc)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "not an http(s) URL with a host"
    return None


def redact(text: str) -> str:
    """``text`` (a URL) safe to print: parsed and redacted, or ``scheme://***``."""
    try:
        return parse(text).redacted()
    except UrlError:
        found = SCHEME.match(text)
        return f"{found.group(1).lower()}://{MASK}" if found else MASK


def redact_all(text: str) -> str:
    """Every URL inside ``text`` (a log line, a message) redacted."""
    return _IN_TEXT.sub(lambda m: redact(m.group(0)), text)


def scrub(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """``text`` with every secret masked, and every run of ``SCRUB_MIN`` or more characters
    that is part of a secret: a driver that mis-split a URL quotes pieces of the password
    (``failed to resolve host 'rest-of-password@db'``), so pieces go too."""
    secrets = [s for s in secrets if s]
    if not secrets or not text:
        return text
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    out, i = [], 0
    while i < len(text):
        longest = 0
        for secret in secrets:
            n = SCRUB_MIN
            while i + n <= len(text) and text[i:i + n] in secret:
                n += 1
            longest = max(longest, n - 1 if n > SCRUB_MIN else 0)
        if longest:
            out.append(MASK)
            i += longest
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def scrub_url(text: str, url: str) -> str:
    """``text`` (a message derived from an exception about ``url``) with the whole user
    part (when it holds a password) and the URL's secrets scrubbed, and any URL in it
    redacted. An unreadable ``url`` is still scrubbed of every part before its last ``@``."""
    try:
        parsed = parse(url)
        userinfo = parsed.userinfo if parsed.password is not None else None
        secrets = parsed.secrets()
    except UrlError:
        found = SCHEME.match(url)
        userinfo = (url[found.end():] if found else url).rpartition("@")[0]
        secrets = userinfo.split(":", 1)[1:]
    text = redact_all(text)
    if userinfo:
        text = text.replace(userinfo, MASK)
    return scrub(text, secrets)


def _split_port(hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        close = hostport.find("]")
        host, after = (hostport[:close + 1], hostport[close + 1:]) if close > 0 else (hostport, "")
        if after and not after.startswith(":"):
            raise UrlError("it has characters after the IPv6 address's closing ']'")
        raw_port = after[1:] if after else None
    else:
        host, sep, raw_port = hostport.rpartition(":")
        if not sep:
            host, raw_port = hostport, None
    if not _HOST.match(host):
        raise UrlError("its host is not a host name or an IP address")
    if raw_port is None or raw_port == "":
        return host, None
    if not raw_port.isascii() or not raw_port.isdigit() or int(raw_port) > 65535:
        raise UrlError("its port is not a number from 0 to 65535")
    return host, int(raw_port)
