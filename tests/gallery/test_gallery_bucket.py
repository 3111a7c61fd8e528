"""The review page with outputs in a bucket: the player plays the object through
``outputs_public_url`` when set, else through a presigned link valid 7 days (signed
here, no network) and the card says so; without credentials it falls back to the
object's plain address. The poster is the object published beside the video, reached
the same way."""

from __future__ import annotations

import datetime as dt

from reconciler.config import load_config
from reconciler.gallery import cards
from reconciler.model import RecordedVideo, Status

SHA = "c" * 64
NOW = dt.datetime(2026, 12, 5, tzinfo=dt.timezone.utc)


def card(tmp_path, extra: str = ""):
    (tmp_path / "reconciler.yaml").write_text(f"outputs: s3://videos/launch\n{extra}")
    config = load_config(tmp_path)
    video = RecordedVideo(address="a/b", provider="unisound", status=Status.FINISHED, task_id="1", fingerprint="f",
                          output_file=f"s3://videos/launch/a/b/{SHA}.mp4", output_sha256=SHA, output_bytes=9,
                          output_task_id="1", request={"text": "hi"})
    (made,) = cards.build_cards(config, {"a/b": video}, [], tmp_path / "site", NOW)
    return made


def test_the_public_url_plays_when_set(tmp_path, monkeypatch):
    made = card(tmp_path, "outputs_public_url: https://cdn.example.com/v\n")
    assert made.src == f"https://cdn.example.com/v/a/b/{SHA}.mp4" and "signed" not in made.note
    assert made.poster == f"https://cdn.example.com/v/a/b/{SHA}.jpg"  # the poster published beside it


def test_a_presigned_link_valid_7_days_plays_otherwise_and_the_card_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "gallery-Secret-1")
    made = card(tmp_path)
    assert made.src.startswith(f"http://127.0.0.1:9/videos/launch/a/b/{SHA}.mp4?")
    assert "X-Amz-Expires=604800" in made.src and "gallery-Secret-1" not in made.src
    assert "valid for 7 days" in made.note
    assert made.poster.startswith(f"http://127.0.0.1:9/videos/launch/a/b/{SHA}.jpg?") and "X-Amz-Expires" in made.poster


def test_without_credentials_the_plain_object_address_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    made = card(tmp_path)
    assert made.src == f"http://127.0.0.1:9/videos/launch/a/b/{SHA}.mp4" and "signed" not in made.note
    assert made.poster == f"http://127.0.0.1:9/videos/launch/a/b/{SHA}.jpg"
