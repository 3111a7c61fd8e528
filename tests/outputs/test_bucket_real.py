"""``outputs.s3client.Bucket`` against the real S3-compatible server the suite starts
(SeaweedFS, tests/s3server.py): the calls the outputs store makes are accepted as
made (Content-MD5 and sha256 metadata on a PUT, server-side copies, a listing of one
folder's objects, a presigned GET that plays), and a wrong secret or a bucket that does
not exist is said with what to fix."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from reconciler.errors import OutputsError
from reconciler.outputs.s3client import Bucket
from reconciler.util.s3url import Location


def test_put_head_copy_list_delete_and_a_presigned_get(s3_server, s3_bucket, tmp_path):
    bucket = Bucket(Location(s3_bucket, "p"), env=s3_server.env())
    bucket.check()
    body = b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 400
    path = tmp_path / "v.mp4"
    path.write_bytes(body)
    sha = hashlib.sha256(body).hexdigest()
    key = f"p/a/{sha}.mp4"
    bucket.put_file(key, path, sha, len(body))
    bucket.put_file(key, path, sha, len(body))  # the same bytes again: harmless
    assert bucket.head(key) == (len(body), sha)
    assert bucket.head("p/a/none.mp4") is None
    bucket.copy(key, f"p/.cache/{'f' * 64}.mp4")
    assert bucket.head(f"p/.cache/{'f' * 64}.mp4") == (len(body), sha)
    bucket.put_file(f"p/a/b/{sha}.mp4", path, sha, len(body))  # a nested address's object
    assert bucket.children("p/a") == [key]
    assert httpx.get(bucket.presigned_get(key), timeout=10).content == body
    bucket.delete(key)
    assert bucket.head(key) is None and bucket.children("p/a") == []


def test_a_wrong_secret_is_a_403_naming_the_variables(s3_server, s3_bucket, tmp_path):
    env = {**s3_server.env(), "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    with pytest.raises(OutputsError) as caught:
        Bucket(Location(s3_bucket), env=env).check()
    message = str(caught.value)
    assert "HTTP 403" in message and "AWS_SECRET_ACCESS_KEY" in message and "not-the-secret" not in message


def test_a_bucket_that_does_not_exist_is_said(s3_server):
    with pytest.raises(OutputsError, match="no bucket no-such-bucket-here"):
        Bucket(Location("no-such-bucket-here"), env=s3_server.env()).check()
