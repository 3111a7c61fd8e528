"""The S3 test rig itself (tests/s3server.py, tests/s3proxy.py): the real server keeps
its promises (a wrong secret gets 403, metadata and sizes come back, copies are
server-side), and each proxy fault does to a real S3 client what the fault tests of
test_s3_outputs.py count on. Without this, a fault test could pass because its fault
never happened."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from tests import s3server


@pytest.fixture
def proxy(s3_proxy):
    return s3_proxy


def _status(exc: ClientError) -> int:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_bucket_keeps_bytes_metadata_and_copies(s3_server, s3_bucket):
    client = s3_server.client()
    body = b"\x00\x01video" * 50_000
    client.put_object(Bucket=s3_bucket, Key="p/a/x.mp4", Body=body, Metadata={"sha256": "abc"},
                      ChecksumAlgorithm="SHA256")
    client.copy_object(Bucket=s3_bucket, Key="p/b/x.mp4", CopySource={"Bucket": s3_bucket, "Key": "p/a/x.mp4"})
    head = client.head_object(Bucket=s3_bucket, Key="p/b/x.mp4")
    assert head["ContentLength"] == len(body) and head["Metadata"] == {"sha256": "abc"}
    got = client.get_object(Bucket=s3_bucket, Key="p/b/x.mp4")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
    assert s3server.objects(s3_bucket) == {"p/a/x.mp4": {"size": len(body)}, "p/b/x.mp4": {"size": len(body)}}


def test_a_wrong_secret_gets_403(s3_server, s3_bucket):
    import boto3

    wrong = boto3.session.Session().client("s3", endpoint_url=s3_server.endpoint, region_name=s3_server.region,
                                           aws_access_key_id=s3_server.access_key, aws_secret_access_key="wrong")
    with pytest.raises(ClientError) as caught:
        wrong.put_object(Bucket=s3_bucket, Key="x", Body=b"x")
    assert _status(caught.value) == 403
    assert s3server.objects(s3_bucket) == {}


def test_the_proxy_forwards_and_fails_on_demand(s3_server, s3_bucket, proxy):
    client = s3_server.client(proxy.url)
    client.put_object(Bucket=s3_bucket, Key="a", Body=b"a" * 3000)  # signed for the proxy's Host: still valid
    assert proxy.requests("PUT", "forwarded")[0].status == 200

    proxy.fail(503, method="PUT")
    with pytest.raises(ClientError) as caught:
        client.put_object(Bucket=s3_bucket, Key="b", Body=b"b")
    assert _status(caught.value) == 503
    assert client.head_object(Bucket=s3_bucket, Key="a")["ContentLength"] == 3000  # only PUTs fail

    proxy.clear()
    proxy.fail(403, times=1)
    with pytest.raises(ClientError) as caught:
        client.head_object(Bucket=s3_bucket, Key="a")
    assert _status(caught.value) == 403
    client.head_object(Bucket=s3_bucket, Key="a")  # only once
    assert set(s3server.objects(s3_bucket)) == {"a"}


def test_the_proxy_cuts_an_upload_and_nothing_half_written_appears(s3_server, s3_bucket, proxy):
    client = s3_server.client(proxy.url)
    proxy.cut()
    with pytest.raises((ConnectionClosedError, EndpointConnectionError, ClientError)):
        client.put_object(Bucket=s3_bucket, Key="big", Body=b"z" * 2_000_000)
    assert proxy.requests("PUT", "cut")
    assert s3server.objects(s3_bucket) == {}


def test_the_proxy_goes_down_and_up_on_the_same_port(s3_server, s3_bucket, proxy):
    client = s3_server.client(proxy.url)
    proxy.down()
    with pytest.raises(EndpointConnectionError):
        client.list_objects_v2(Bucket=s3_bucket)
    proxy.up()
    assert client.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0


def test_a_slow_proxy_still_answers(s3_server, s3_bucket, proxy):
    client = s3_server.client(proxy.url)
    proxy.slow(0.3)
    client.put_object(Bucket=s3_bucket, Key="s", Body=b"s")
    assert [e.outcome for e in proxy.requests("PUT")] == ["slowed"]
    assert client.get_object(Bucket=s3_bucket, Key="s")["Body"].read() == b"s"
