"""Sidecar files beside a video (a poster, captions), through the outputs store: published
where the video is, removed only when they are that video's, and a published output
brought to this machine for reading (a bucket's streamed, its sha256 checked)."""

from __future__ import annotations

import hashlib

import pytest

from reconciler.config import load_config
from reconciler.errors import OutputsError
from reconciler.outputs import open_outputs
from reconciler.outputs.bucket import BucketOutputs
from tests.fakes import FakeBucket

VTT = b"WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n"


def test_a_folder_keeps_sidecars_beside_the_video_and_removes_only_that_videos(tmp_path):
    where = open_outputs(load_config(tmp_path))
    file = where.publish_sidecar("faq/q1", "vtt", VTT)
    assert file == "outputs/faq/q1.vtt" and (tmp_path / file).read_bytes() == VTT
    other = where.publish_sidecar("faq/q2", "srt", b"1\n")
    (tmp_path / "outputs/faq/q1.txt").write_text("not a sidecar")
    assert where.remove_sidecars("faq/q1", [file, other, "outputs/faq/q1.txt", "../elsewhere.vtt"]) == [file]
    assert not (tmp_path / file).exists() and (tmp_path / other).exists()
    assert (tmp_path / "outputs/faq/q1.txt").exists()
    assert where.local_copy(other, None, tmp_path / "unused") == tmp_path / other  # read where it is


def test_a_bucket_names_sidecars_by_content_under_the_videos_folder(tmp_path):
    (tmp_path / "reconciler.yaml").write_text("outputs: s3://videos/launch\n")
    bucket = FakeBucket()
    where = BucketOutputs(load_config(tmp_path), bucket=bucket)
    file = where.publish_sidecar("faq/q1", "vtt", VTT)
    assert file == f"s3://videos/launch/faq/q1/{hashlib.sha256(VTT).hexdigest()}.vtt"
    video = f"s3://videos/launch/faq/q1/{'a' * 64}.mp4"
    bucket.objects[f"launch/faq/q1/{'a' * 64}.mp4"] = (b"video", "a" * 64)
    assert where.remove_sidecars("faq/q1", [file, video]) == [file]  # never the video itself
    assert list(bucket.objects) == [f"launch/faq/q1/{'a' * 64}.mp4"]


def test_a_bucket_streams_a_published_output_to_this_machine_checked(tmp_path):
    (tmp_path / "reconciler.yaml").write_text("outputs: s3://videos/launch\n")
    bucket = FakeBucket()
    where = BucketOutputs(load_config(tmp_path), bucket=bucket)
    data = b"the bytes of a part"
    sha = hashlib.sha256(data).hexdigest()
    bucket.objects[f"launch/p/{sha}.mp4"] = (data, sha)
    got = where.local_copy(f"s3://videos/launch/p/{sha}.mp4", sha, tmp_path / "state/joins/p.mp4")
    assert got.read_bytes() == data
    with pytest.raises(OutputsError, match="not the recorded bytes"):
        where.local_copy(f"s3://videos/launch/p/{sha}.mp4", "0" * 64, tmp_path / "state/joins/q.mp4")
    assert not (tmp_path / "state/joins/q.mp4").exists()
    with pytest.raises(OutputsError, match="run `reconciler refresh`"):
        where.local_copy("s3://videos/launch/gone.mp4", None, tmp_path / "state/joins/r.mp4")


def test_a_folder_publishes_a_file_made_elsewhere_by_moving_it_into_place(tmp_path):
    """What a join staged under state/ needs: one call, the old output replaced whole."""
    config = load_config(tmp_path)
    where = open_outputs(config)
    (tmp_path / "outputs/faq").mkdir(parents=True)
    (tmp_path / "outputs/faq/q1.mp4").write_bytes(b"the old output")
    staged = tmp_path / "state/joins/faq/q1/joined.mp4"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"the joined video")
    sha = hashlib.sha256(b"the joined video").hexdigest()
    assert where.store("faq/q1", staged, sha, 16) == "outputs/faq/q1.mp4"
    assert (tmp_path / "outputs/faq/q1.mp4").read_bytes() == b"the joined video" and not staged.exists()
    in_place = where.download_path("faq/q2")  # a download: already where it belongs
    in_place.write_bytes(b"downloaded")
    assert where.store("faq/q2", in_place, "0" * 64, 10) == "outputs/faq/q2.mp4" and in_place.exists()
