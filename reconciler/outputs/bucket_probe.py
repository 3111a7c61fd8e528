"""The outputs bucket's checks of ``reconciler doctor`` (``BucketOutputs.probes``): a free HEAD
of the bucket, a write test, and fix hints that name what is actually wrong.

Why a module of its own: a HEAD of the bucket passed a key that could reach the bucket
but not upload to it, so the first render paid for was the first upload refused. The
write test puts a tiny object under ``<prefix>/.doctor/`` and deletes it (the only
write doctor makes, and it leaves nothing behind unless the delete itself is refused);
a refusal names the bucket, the endpoint (redacted) and the missing permission
(``s3:PutObject``, ``s3:DeleteObject``). The hints list only the variables that are
unset, and when all are set, which value the service refused; never a value.
"""

from __future__ import annotations

import secrets
from typing import Mapping

from reconciler.errors import ConfigError, OutputsError, ReconcilerError
from reconciler.outputs.base import Probe
from reconciler.outputs.s3client import Bucket, check_endpoint

KEY_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
PROBE_BODY = b"written by `reconciler doctor` to test uploads; safe to delete\n"
# the S3 error code of a refused call -> what the service refused
REFUSED = {
    "SignatureDoesNotMatch": "AWS_SECRET_ACCESS_KEY was refused (the signature did not match): check that it is "
                             "the secret of the key in AWS_ACCESS_KEY_ID",
    "InvalidAccessKeyId": "AWS_ACCESS_KEY_ID was refused (the service knows no such key): check it against the "
                          "storage service's console",
}


def probes(location, env: Mapping[str, str]) -> list[Probe]:
    """The bucket's HEAD (reachable, credentials accepted, the bucket exists), then (when
    it answers) a test upload and delete."""
    head = answers(Bucket(location, env=env), env)
    if not head.ok:
        return [head]
    return [head, writable(Bucket(location, env=env))]


def answers(bucket: Bucket, env: Mapping[str, str]) -> Probe:
    """A free HEAD of the outputs bucket (docs/outputs.md). Writes nothing."""
    try:
        bucket.check()
    except ReconcilerError as exc:
        return Probe("outputs bucket", False, str(exc), fix(bucket, env, exc))
    return Probe("outputs bucket", True, f"{bucket.location.url} answers at {bucket.endpoint}")


def fix(bucket, env: Mapping[str, str], exc: Exception) -> str:
    """The next step after the bucket's HEAD failed with ``exc``."""
    location = bucket.location
    if isinstance(exc, ConfigError) and not _endpoint_usable(env):  # the detail says why
        return "Set AWS_ENDPOINT_URL to the service's base URL, e.g. http://127.0.0.1:8333, with no credentials in it."
    missing = [v for v in KEY_VARS if not env.get(v)]
    if missing:
        endpoint = "" if env.get("AWS_ENDPOINT_URL") else " (and AWS_ENDPOINT_URL=... for a service other than AWS S3)"
        return (f"export {' '.join(f'{v}=...' for v in missing)}{endpoint}, from the storage service's console "
                "(never in a file of the project); no render can be published until the bucket answers.")
    if isinstance(exc, ConfigError):  # e.g. boto3 not installed: the detail names the fix
        return "Do what the message above says, then run doctor again."
    status, code = getattr(exc, "status", None), getattr(exc, "code", "")
    where = (f"AWS_ENDPOINT_URL ({bucket.endpoint})" if env.get("AWS_ENDPOINT_URL")
             else f"AWS S3 ({bucket.endpoint}: AWS_ENDPOINT_URL is unset)")
    if status == 404 or code == "NoSuchBucket":
        return (f"Create the bucket {location.bucket} at {where}, or fix `outputs:` in reconciler.yaml"
                + ("" if env.get("AWS_ENDPOINT_URL") else ", or set AWS_ENDPOINT_URL for another service") + ".")
    if status == 403:
        code = code if code in REFUSED else _refusal_code(bucket) or code
        if code in REFUSED:
            return REFUSED[code] + "."
        return (f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set but were refused at {where}: check that the "
                f"secret belongs to the key, and that the key may use the bucket {location.bucket} "
                "(s3:ListBucket).")
    if status is None:  # no answer: unreachable or timed out
        if env.get("AWS_ENDPOINT_URL"):
            return ("AWS_ENDPOINT_URL is set but nothing answers there: check the URL, and that the service is up "
                    "and reachable from this machine.")
        return ("AWS_ENDPOINT_URL is unset, so AWS S3 was asked: set it to your S3-compatible service's base URL, "
                "or check the network.")
    return "Try again later; if it persists, check the service's status."


def _endpoint_usable(env: Mapping[str, str]) -> bool:
    try:
        check_endpoint(env)
    except ConfigError:
        return False
    return True


def _refusal_code(bucket) -> str:
    """A HEAD's refusal has no body, so no code: one free listing (a GET, whose refusal
    has one) tells a wrong secret from an unknown key or a missing permission."""
    try:
        bucket.some_under("", 1)
    except OutputsError as exc:
        return exc.code
    return ""


def writable(bucket) -> Probe:
    """Put a tiny object under ``<prefix>/.doctor/`` and delete it."""
    location = bucket.location
    key = location.key(".doctor", secrets.token_hex(8))
    folder = location.url + "/.doctor/"
    try:
        bucket.put_bytes(key, PROBE_BODY, content_type="text/plain")
    except OutputsError as exc:
        return _refused(bucket, exc, "s3:PutObject", "upload", f"a test upload under {folder}", "")
    try:
        bucket.delete(key)
    except OutputsError as exc:
        return _refused(bucket, exc, "s3:DeleteObject", "delete", f"deleting the test object {key}",
                        f" The test object {key} is left in the bucket: delete it once the key may.")
    return Probe("bucket writes", True, f"a test object was uploaded under {folder} and deleted")


def _refused(bucket, exc: OutputsError, permission: str, verb: str, what: str, left: str) -> Probe:
    location = bucket.location
    scope = f"arn:aws:s3:::{location.bucket}/{location.key('*')}"
    if exc.status == 403:
        return Probe("bucket writes", False,
                     f"{what} in the {bucket.where} was refused (HTTP 403 {exc.code}), though the bucket answered "
                     f"its HEAD: the key in AWS_ACCESS_KEY_ID may reach the bucket but not {verb} objects in it",
                     f"Grant that key {permission} on {scope} (the bucket's or the key's policy); no render can be "
                     f"published until it may.{left}")
    return Probe("bucket writes", False, str(exc),
                 f"Try again later; if it persists, check the service's status.{left}")
