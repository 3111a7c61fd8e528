"""Outputs in a bucket, below the engine: the ``outputs: s3://`` setting and its
companions, object keys and URLs, the store's checks, the S3 errors turned into
messages that name the bucket and the fix (never a secret), and that commands with
local outputs never import boto3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.config import load_config, secrets
from reconciler.errors import ConfigError
from reconciler.model import RecordedVideo, Status
from reconciler.outputs import open_outputs
from reconciler.outputs.bucket import BucketOutputs
from reconciler.outputs.local import LocalOutputs
from reconciler.outputs.s3client import Bucket, endpoint_name
from reconciler.util import s3url
from tests.fakes import FakeBucket

SHA = "a" * 64


def project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "reconciler.yaml").write_text(text)
    return tmp_path


def error_of(root: Path) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_config(root)
    return str(excinfo.value)


def test_outputs_in_a_bucket_are_read_with_their_prefix(tmp_path):
    config = load_config(project(tmp_path, "outputs: s3://videos/launch-2026/team/\n"))
    assert config.outputs_location == s3url.Location("videos", "launch-2026/team")
    assert config.uploads_dir == tmp_path / "state/uploads"
    assert load_config(project(tmp_path, "outputs: s3://videos\n")).outputs_location == s3url.Location("videos")
    assert load_config(project(tmp_path, "outputs: media/out\n")).outputs_location is None


def test_credentials_in_the_outputs_url_are_an_error_naming_the_line_and_never_echoed(tmp_path):
    message = error_of(project(tmp_path, "specs: specs\noutputs: s3://AKIAKEY:topsecret@videos/x\n"))
    assert message.startswith("reconciler.yaml:2: outputs: holds credentials")
    assert "AWS_ACCESS_KEY_ID" in message and "topsecret" not in message and "AKIAKEY" not in message


@pytest.mark.parametrize("text, fragment", [
    ("outputs: s3://Bad_Bucket/x\n", "is not a bucket name"),
    ("outputs: s3:///x\n", "is not a bucket name"),
    ("outputs: s3://videos/a//b\n", "empty, '.' or '..' part"),
    ("outputs: gs://videos/x\n", "must be a folder of the project or s3://BUCKET/PREFIX"),
    ("outputs: s3://videos\noutputs_public_url: ftp://cdn\n", "outputs_public_url: must be an http(s) base URL"),
    ("outputs_public_url: https://cdn.example.com\n", "needs `outputs: s3://BUCKET/PREFIX`"),
    ("outputs: s3://videos\nkeep_deleted_outputs: 'yes'\n", "keep_deleted_outputs: must be true or false"),
])
def test_bad_bucket_settings_are_errors_with_their_line(tmp_path, text, fragment):
    message = error_of(project(tmp_path, text))
    assert message.startswith("reconciler.yaml:") and fragment in message


def test_the_bucket_secret_is_a_secret_to_redact():
    found = secrets({"AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_ACCESS_KEY_ID": "AKIA"})
    assert found == {"AWS_SECRET_ACCESS_KEY": "s3cr3t"}


def test_keys_and_urls_under_a_prefix():
    loc = s3url.Location("videos", "launch")
    assert loc.key("a/b", f"{SHA}.mp4") == f"launch/a/b/{SHA}.mp4"
    url = loc.object_url(loc.key("a/b", f"{SHA}.mp4"))
    assert url == f"s3://videos/launch/a/b/{SHA}.mp4"
    assert loc.relative(url) == f"a/b/{SHA}.mp4"
    assert loc.key_of("s3://videos/other/x.mp4") is None and loc.key_of("outputs/a.mp4") is None
    assert s3url.Location("videos").key("a", "b.mp4") == "a/b.mp4"


def test_the_factory_picks_the_store_without_importing_boto3(tmp_path):
    local = load_config(project(tmp_path, "outputs: outputs\n"))
    assert isinstance(open_outputs(local), LocalOutputs)
    code = ("import sys; from pathlib import Path; from reconciler.config import load_config; "
            "from reconciler.outputs import open_outputs; "
            f"s = open_outputs(load_config(Path({str(tmp_path)!r}))); "
            "print(type(s).__name__, 'boto3' in sys.modules, 'botocore' in sys.modules)")
    project(tmp_path, "outputs: s3://videos/x\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["BucketOutputs", "False", "False"]


def finished(address: str, file: str | None, sha: str = SHA, size: int = 5) -> RecordedVideo:
    return RecordedVideo(address=address, provider="unisound", status=Status.FINISHED, task_id="1",
                         fingerprint="f", output_file=file, output_sha256=sha, output_bytes=size,
                         output_task_id="1")


def store(tmp_path: Path, extra: str = "") -> tuple[BucketOutputs, FakeBucket]:
    config = load_config(project(tmp_path, f"outputs: s3://videos/launch\n{extra}"))
    bucket = FakeBucket()
    return BucketOutputs(config, bucket=bucket), bucket


def test_check_is_a_head_naming_what_differs(tmp_path):
    where, bucket = store(tmp_path)
    key = f"launch/a/{SHA}.mp4"
    video = finished("a", f"s3://videos/{key}")
    assert where.check(video) == f"s3://videos/{key} is missing"
    bucket.objects[key] = (b"12345", SHA)
    assert where.check(video) is None
    bucket.objects[key] = (b"1234", SHA)
    assert "has 4 bytes, recorded 5" in where.check(video)
    bucket.objects[key] = (b"12345", "b" * 64)
    assert "was changed (sha256 metadata bbbbbbbbbbbb" in where.check(video)
    assert bucket.count("get") == 0  # never a download


def test_plan_trusts_the_bucket_no_call(tmp_path):
    where, bucket = store(tmp_path)
    recorded = {"a": finished("a", f"s3://videos/launch/a/{SHA}.mp4")}
    assert where.notice_missing(recorded) is recorded and bucket.calls == []


def test_public_and_player_urls(tmp_path):
    where, _ = store(tmp_path, "outputs_public_url: https://cdn.example.com/v\n")
    file = f"s3://videos/launch/a/b/{SHA}.mp4"
    assert where.public_url(file) == f"https://cdn.example.com/v/a/b/{SHA}.mp4"
    assert where.player_url(file) == where.public_url(file)
    (tmp_path / "other").mkdir()
    plain, _ = store(tmp_path / "other")
    assert plain.public_url(file) is None and "X-Amz-Expires=604800" in plain.player_url(file)  # a signed link


def client_error(status: int, code: str):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "PutObject")


@pytest.mark.parametrize("exc, fragment", [
    (lambda: client_error(403, "AccessDenied"), "refused the credentials (HTTP 403"),
    (lambda: client_error(404, "NoSuchBucket"), "there is no bucket videos"),
    (lambda: client_error(503, "SlowDown"), "answered HTTP 503 (SlowDown) after 3 tries"),
])
def test_s3_errors_name_the_bucket_endpoint_and_fix(exc, fragment):
    env = {"AWS_ENDPOINT_URL": "http://user:pw@127.0.0.1:1/", "AWS_SECRET_ACCESS_KEY": "s3cr3t"}
    bucket = Bucket(s3url.Location("videos", "x"), env=env)
    message = str(bucket.error("uploading k", exc()))
    assert "bucket videos at http://127.0.0.1:1/" in message and fragment in message
    assert "s3cr3t" not in message and "pw" not in message


def test_an_unreachable_endpoint_is_said_with_the_fix(tmp_path):
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s3cr3t"}
    bucket = Bucket(s3url.Location("videos"), env=env)
    with pytest.raises(Exception) as excinfo:
        bucket.check()
    message = str(excinfo.value)
    assert type(excinfo.value).__name__ == "OutputsError"
    assert "cannot connect to http://127.0.0.1:9" in message and "AWS_ENDPOINT_URL" in message
    assert "s3cr3t" not in message


def test_missing_bucket_credentials_are_a_config_error():
    bucket = Bucket(s3url.Location("videos"), env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    with pytest.raises(ConfigError, match="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"):
        bucket.check()


def test_without_boto3_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` fails as when it is not installed
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    with pytest.raises(ConfigError) as excinfo:
        Bucket(s3url.Location("videos"), env=env).check()
    # this project's distribution: "reconciler" on PyPI is an unrelated one
    assert "pip install 'avatar-video-reconciler[s3]'" in str(excinfo.value)


def test_endpoint_names_for_messages():
    assert endpoint_name({}) == "AWS S3 (us-east-1)"
    assert endpoint_name({"AWS_REGION": "eu-west-1"}) == "AWS S3 (eu-west-1)"
    assert endpoint_name({"AWS_ENDPOINT_URL": "https://a:b@s3.example.com"}) == "https://s3.example.com"
