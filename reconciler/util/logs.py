"""``--debug``: the library's ``logging`` calls, shown on stderr with secrets redacted.

Why a module of its own: the vendor clients log every call (method, path, status,
duration), every retry and every download at DEBUG, and until a handler is attached
those lines go nowhere. A person chasing a slow or failing vendor needs them; nobody
else wants them. So nothing is set up unless the command line asks (``--debug``/``-v``);
then one handler writes UTC-stamped lines of the ``reconciler`` loggers to stderr.

Every line passes ``Redact`` first. The clients never log a header, query or body, but
a log line can quote an exception or a URL: the filter replaces the configured secrets
(passed in by the caller; this module knows nothing about vendors) and the value of any
query parameter or header that looks like a credential (``signature=``, ``X-TOKEN:``...)
with ``***``, and redacts every URL in it (``util.urls``: its user part and credential
query values), so ``--debug`` output can be pasted into an issue as it is.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Iterable

from reconciler.util import urls

LOGGER = "reconciler"  # the parent of every logger in the package (``reconciler.providers``, ...)
MASK = "***"
MIN_SECRET_LEN = 6  # a shorter "secret" would mask ordinary text
FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
# name=value (a query string, a form body), "name": "value" (JSON) or Name: value (a header)
_CREDENTIAL = re.compile(
    r"""(?P<key>\b[\w-]*(?:signature|token|secret|password|passwd|api[_-]?key|access[_-]?key|authorization)"""
    r"""[\w-]*)(?P<sep>["']?\s*[=:]\s*["']?)(?P<value>(?:(?:Bearer|Basic)\s+)?[^\s&"',;]+)""",
    re.IGNORECASE,
)


class Redact(logging.Filter):
    """Masks ``secrets`` and credential-looking values in every record it passes."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        """``text`` with every secret masked (nothing else changed)."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def redact(self, text: str) -> str:
        text = urls.redact_all(self.mask(text))
        return _CREDENTIAL.sub(lambda m: m["key"] + m["sep"] + MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.redact(record.getMessage())
        record.msg, record.args = message, None  # formatted once, here, and redacted
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.exc_info = None
        return True


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged, so a rich progress
    display (which redirects stderr while it runs) prints the line above itself."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def enable_debug(secrets: Iterable[str] = ()) -> logging.Handler:
    """Show every ``reconciler`` log line at DEBUG and above on stderr, redacted.
    Returns the handler (tests remove it again)."""
    handler = _StderrHandler()
    formatter = logging.Formatter(FORMAT, DATE_FORMAT)
    formatter.converter = time.gmtime  # UTC, like every other stamp (util/clock)
    handler.setFormatter(formatter)
    handler.addFilter(Redact(secrets))
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return handler
