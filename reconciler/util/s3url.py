"""``s3://bucket/prefix`` URLs: parsed and checked, keys joined under the prefix.

Why a module of its own: the same few string rules are needed by the config check
(``outputs: s3://...``), by the bucket outputs store (object keys, the ``file`` the
state and manifest record) and by the manifest's public ``url``. Pure strings, no
network, no S3 library: ``plan`` and ``status`` use it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEME = "s3://"
# S3's bucket naming rules (lower case letters, digits, dots, hyphens; 3-63 characters)
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class S3UrlError(ValueError):
    """An ``s3://`` URL that cannot name a bucket and prefix (the message says why)."""


@dataclass(frozen=True)
class Location:
    """A bucket and a key prefix ("" or ``a/b``, no leading or trailing slash)."""

    bucket: str
    prefix: str = ""

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{SCHEME}{self.bucket}"

    def key(self, *parts: str) -> str:
        """The object key of ``parts`` under the prefix."""
        return "/".join(p for p in (self.prefix, *parts) if p)

    def object_url(self, key: str) -> str:
        return f"{SCHEME}{self.bucket}/{key}"

    def key_of(self, url: str | None) -> str | None:
        """The key of ``url`` if it names an object under this location, else None."""
        head = f"{SCHEME}{self.bucket}/"
        if not url or not url.startswith(head):
            return None
        key = url[len(head):]
        if self.prefix and not key.startswith(self.prefix + "/"):
            return None
        return key or None

    def relative(self, url: str | None) -> str | None:
        """The part of ``url`` below the prefix (``<address>/<sha256>.mp4``), or None."""
        key = self.key_of(url)
        if key is None:
            return None
        return key[len(self.prefix) + 1:] if self.prefix else key


def is_s3(value: str) -> bool:
    return value.lower().startswith(SCHEME)


def parse(value: str) -> Location:
    """``s3://bucket/prefix`` as a Location; S3UrlError (never echoing a secret) if it
    carries credentials, names no valid bucket, or has an empty/``.``/``..`` path part."""
    rest = value[len(SCHEME):]
    netloc, _, path = rest.partition("/")
    if "@" in netloc:
        raise S3UrlError("holds credentials; keep them out of reconciler.yaml: set AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY in the environment")
    if not BUCKET.match(netloc) or ".." in netloc:
        raise S3UrlError(f"{netloc or '(empty)'!s} is not a bucket name (3-63 lower-case letters, digits, "
                         "dots and hyphens): write s3://BUCKET/PREFIX")
    if "?" in path or "#" in path:
        raise S3UrlError("a prefix may not hold '?' or '#'")
    parts = [p for p in path.strip("/").split("/")] if path.strip("/") else []
    if any(p in ("", ".", "..") for p in parts):
        raise S3UrlError("the prefix has an empty, '.' or '..' part")
    return Location(bucket=netloc, prefix="/".join(parts))


def split_object(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` as (bucket, key), checked as ``parse`` checks a location (the
    key is its "prefix"); S3UrlError if it is not one."""
    location = parse(url)
    return location.bucket, location.prefix
