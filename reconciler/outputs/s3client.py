"""The S3 client of the outputs bucket (docs/outputs.md): one per run, errors made ours.

Why a module of its own: this is the only place that imports boto3 (245 ms), and only
when outputs are ``s3://`` and a bucket call is really made; ``plan``, ``validate`` and
``status`` never get here. Endpoint, region and credentials come from the environment
only (``AWS_ENDPOINT_URL``, ``AWS_REGION`` (default ``us-east-1``),
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, optional ``AWS_SESSION_TOKEN``); they
are handed to boto3 explicitly, so no profile file or instance metadata is ever asked.

The client is thread-safe and shared by every upload of a run (called through
``asyncio.to_thread``, so uploads overlap with polling): explicit connect/read
timeouts, bounded retries (standard mode, ``ATTEMPTS``), a connection pool at least
as large as the run's parallelism. Checksums: an upload carries ``Content-MD5`` (the
one every S3-compatible service verifies) and the sha256 as object metadata; boto3's
newer default CRC checksums are asked only where an operation requires them, so
services that do not know them still work.

Every failure becomes an ``errors.OutputsError`` whose message names the bucket and
endpoint and says what to fix (unreachable, HTTP 403 credentials, no such bucket,
5xx, timeout), never a secret.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from reconciler import DISTRIBUTION
from reconciler.errors import ConfigError, OutputsError
from reconciler.util import s3url, urls
from reconciler.util.s3url import Location

CONNECT_TIMEOUT = 5.0  # seconds to open a connection
READ_TIMEOUT = 60.0  # seconds waiting for an answer (an upload's reply included)
ATTEMPTS = 3  # botocore standard retry mode: tries per call, with backoff
DEFAULT_REGION = "us-east-1"
PRESIGN_SECONDS = 7 * 86400  # the longest a SigV4 presigned URL may live
METADATA_SHA256 = "sha256"
log = logging.getLogger("reconciler.bucket")  # `--debug`: one line per bucket call (redacted like the rest)


def endpoint_name(env: Mapping[str, str] | None = None) -> str:
    """The endpoint for messages (``util.urls.redact``: no user part): ``AWS_ENDPOINT_URL`` or AWS S3."""
    env = os.environ if env is None else env
    url = env.get("AWS_ENDPOINT_URL", "").strip()
    if not url:
        return f"AWS S3 ({env.get('AWS_REGION') or DEFAULT_REGION})"
    try:  # the user part is not the endpoint's name (and is refused: check_endpoint)
        return urls.redact(urls.parse(url).without_userinfo())
    except urls.UrlError:
        return urls.redact(url) if urls.has_scheme(url) else "AWS_ENDPOINT_URL (not a URL)"


def plain_url(s3_url: str, env: Mapping[str, str] | None = None) -> str:
    """The HTTP address of an ``s3://bucket/key`` object: path style under
    ``AWS_ENDPOINT_URL`` when set, else AWS's virtual-hosted style. It plays when the
    reviewer can read the bucket (a public or a signed-in endpoint). Never a user part."""
    env = os.environ if env is None else env
    bucket, key = s3url.split_object(s3_url)
    endpoint = env.get("AWS_ENDPOINT_URL", "").strip().rstrip("/")
    if endpoint:
        try:  # never a user part (a secret) in the page
            endpoint = urls.parse(endpoint).without_userinfo()
        except urls.UrlError:
            endpoint = urls.redact(endpoint)
        return f"{endpoint}/{quote(bucket)}/{quote(key)}"
    return f"https://{bucket}.s3.amazonaws.com/{quote(key)}"


def check_endpoint(env: Mapping[str, str] | None = None) -> None:
    """ConfigError, naming the variable and quoting none of it, unless ``AWS_ENDPOINT_URL``
    is unset or an http(s) base URL without credentials."""
    env = os.environ if env is None else env
    url = env.get("AWS_ENDPOINT_URL", "").strip()
    if not url:
        return
    expected = "expected the S3-compatible service's base URL, e.g. http://127.0.0.1:8333"
    try:
        parsed = urls.parse(url)
    except urls.UrlError as exc:
        raise ConfigError(f"AWS_ENDPOINT_URL (environment): {exc}; {expected}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"AWS_ENDPOINT_URL (environment): not an http(s) URL with a host; {expected}")
    if parsed.userinfo is not None:
        raise ConfigError("AWS_ENDPOINT_URL (environment) holds credentials: remove them from the URL and set "
                          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")


def require_credentials(location: Location, env: Mapping[str, str] | None = None) -> None:
    """ConfigError unless the environment holds the bucket's key and secret and a usable
    endpoint (no network, no boto3): apply and refresh ask this before any paid call."""
    env = os.environ if env is None else env
    check_endpoint(env)
    missing = [n for n in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not env.get(n)]
    if missing:
        endpoint = "" if env.get("AWS_ENDPOINT_URL", "").strip() else " (and AWS_ENDPOINT_URL for a service other than AWS S3)"
        raise ConfigError(f"outputs: s3://{location.bucket}: set {' and '.join(missing)} in the "
                          f"environment{endpoint}")


class Bucket:
    """The few bucket calls the outputs store makes, each a blocking call (run it in a
    thread). Raises ``OutputsError``; a missing object is None, not an error."""

    def __init__(self, location: Location, *, parallelism: int = 8, env: Mapping[str, str] | None = None):
        env = dict(os.environ if env is None else env)
        self.location = location
        self.endpoint = endpoint_name(env)
        self._env = env
        self._pool = max(10, parallelism + 2)
        self._client = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"bucket {self.location.bucket} at {self.endpoint}"

    def client(self):
        """The boto3 client, built on first use (thread-safe; one per Bucket)."""
        with self._lock:
            if self._client is None:
                self._client = self._build()
            return self._client

    def _build(self):
        env = self._env
        require_credentials(self.location, env)
        key_id, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        try:
            import boto3
            from botocore.config import Config as BotoConfig
        except ImportError:
            raise ConfigError(f"outputs in a bucket need boto3: pip install '{DISTRIBUTION}[s3]'") from None
        endpoint = env.get("AWS_ENDPOINT_URL", "").strip() or None
        options = dict(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                       retries={"mode": "standard", "max_attempts": ATTEMPTS},
                       max_pool_connections=self._pool, signature_version="s3v4",
                       request_checksum_calculation="when_required",
                       response_checksum_validation="when_required")
        if endpoint:  # S3-compatible services on an address of their own: bucket in the path
            options["s3"] = {"addressing_style": env.get("AWS_S3_ADDRESSING_STYLE") or "path"}
        session = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret,
                                        aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
                                        region_name=env.get("AWS_REGION") or DEFAULT_REGION)
        return session.client("s3", endpoint_url=endpoint, config=BotoConfig(**options))

    # -- calls ---------------------------------------------------------------------------

    def put_file(self, key: str, path: Path, sha256: str, size: int) -> None:
        """Upload ``path`` as ``key`` (one PUT: atomic, and idempotent for the same bytes)."""
        md5 = _md5_b64(path)
        with open(path, "rb") as body:
            self._call(f"uploading {key}", "put_object", Key=key, Body=body, ContentLength=size,
                       ContentMD5=md5, ContentType="video/mp4", Metadata={METADATA_SHA256: sha256})

    def head(self, key: str) -> tuple[int, str | None] | None:
        """(size, sha256 metadata) of ``key``, or None when there is no such object."""
        reply = self._call(f"checking {key}", "head_object", Key=key, missing_ok=True)
        if reply is None:
            return None
        return int(reply.get("ContentLength", -1)), (reply.get("Metadata") or {}).get(METADATA_SHA256)

    def copy(self, source: str, key: str) -> None:
        """Server-side copy of ``source`` to ``key`` (metadata copied): no byte passes here."""
        self._call(f"copying {source} to {key}", "copy_object", Key=key, MetadataDirective="COPY",
                   CopySource={"Bucket": self.location.bucket, "Key": source})

    def delete(self, key: str) -> None:
        self._call(f"deleting {key}", "delete_object", Key=key)

    def children(self, folder: str) -> list[str]:
        """Keys directly under ``folder/`` (not in its sub-folders)."""
        keys, token = [], None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            reply = self._call(f"listing {folder}/", "list_objects_v2", Prefix=folder + "/", Delimiter="/", **extra)
            keys += [item["Key"] for item in reply.get("Contents", [])]
            token = reply.get("NextContinuationToken")
            if not reply.get("IsTruncated") or not token:
                return keys

    def open_object(self, key: str):
        """The body of ``key`` as a stream to ``read(n)`` (``outputs migrate``), or None
        when there is no such object."""
        reply = self._call(f"reading {key}", "get_object", Key=key, missing_ok=True)
        return None if reply is None else reply["Body"]

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/json") -> None:
        """A small object (``outputs migrate``'s marker), in one PUT."""
        self._call(f"writing {key}", "put_object", Key=key, Body=data, ContentType=content_type,
                   ContentMD5=base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode())

    def some_under(self, folder: str, limit: int = 2) -> list[str]:
        """Up to ``limit`` keys under ``folder/`` ("": the whole bucket), at any depth."""
        reply = self._call(f"listing {folder}/", "list_objects_v2", Prefix=f"{folder}/" if folder else "",
                           MaxKeys=limit)
        return [item["Key"] for item in reply.get("Contents", [])]

    def check(self) -> None:
        """A HEAD of the bucket: reachable, credentials accepted, the bucket exists."""
        self._call("checking the bucket", "head_bucket")

    def presigned_get(self, key: str, seconds: int = PRESIGN_SECONDS) -> str:
        """A signed GET URL of ``key`` (computed here, no network call)."""
        return self.client().generate_presigned_url(
            "get_object", Params={"Bucket": self.location.bucket, "Key": key}, ExpiresIn=seconds)

    def _call(self, what: str, method: str, *, missing_ok: bool = False, **params):
        client = self.client()
        started = time.monotonic()
        try:
            reply = getattr(client, method)(Bucket=self.location.bucket, **params)
        except Exception as exc:  # noqa: BLE001 - botocore's tree, mapped once here
            log.debug("bucket %s %s %s -> %s %s", method, self.location.bucket, params.get("Key", ""),
                      _status(exc) or type(exc).__name__, _code(exc))
            if missing_ok and _status(exc) == 404 and _code(exc) not in ("NoSuchBucket",):
                return None
            raise self.error(what, exc, of_bucket=method == "head_bucket") from None
        log.debug("bucket %s %s %s -> ok (%.0f ms)", method, self.location.bucket, params.get("Key", ""),
                  1000 * (time.monotonic() - started))
        return reply

    def error(self, what: str, exc: BaseException, *, of_bucket: bool = False) -> OutputsError:
        return OutputsError(f"{what} in the {self.where} failed: {self._why(exc, of_bucket)}",
                            status=_status(exc), code=_code(exc))

    def _why(self, exc: BaseException, of_bucket: bool = False) -> str:
        from botocore import exceptions as bex

        status, code = _status(exc), _code(exc)
        if code == "NoSuchBucket" or (of_bucket and status == 404):  # a HEAD has no body: only its status
            return (f"there is no bucket {self.location.bucket}: create it, or fix `outputs:` in reconciler.yaml "
                    "(or AWS_ENDPOINT_URL)")
        if status == 403 or code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
            return (f"the service refused the credentials (HTTP 403 {code}): check AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY in the environment, and that this key may use the bucket")
        if status is not None and status >= 500:
            return f"the service answered HTTP {status} ({code}) after {ATTEMPTS} tries; try again later"
        if status is not None:
            return f"the service answered HTTP {status} ({code})"
        if isinstance(exc, (bex.ConnectTimeoutError, bex.EndpointConnectionError)):
            return (f"cannot connect to {self.endpoint}: check AWS_ENDPOINT_URL and that the service is up "
                    "and reachable from this machine")
        if isinstance(exc, bex.ReadTimeoutError):
            return f"no answer from {self.endpoint} within {READ_TIMEOUT:.0f} s ({ATTEMPTS} tries); try again later"
        if isinstance(exc, OSError):
            return f"{exc.strerror or exc}"
        return urls.redact_all(f"{type(exc).__name__}: {exc}")


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _md5_b64(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()
