"""Downloads: checked length, sha256, atomic rename, nothing left behind on failure,
and a one-shot URL fetched exactly once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from reconciler.errors import PermanentError, TransientError
from reconciler.providers import download
from reconciler.sim import media
from tests.providers.helpers import Script, make_unisound, make_xingyun

pytestmark = pytest.mark.anyio
VIDEO = media.base_clip() + media.free_box(bytes(range(256)) * 1000)  # a real MP4, 256 kB: several chunks
URL = "https://oss.test/out/video.mp4?Signature=abc"


def video(body: bytes = VIDEO, **headers) -> httpx.Response:
    return httpx.Response(200, content=body, headers=headers)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


async def test_download_streams_to_dest_with_sha256(tmp_path):
    dest = tmp_path / "outputs" / "launch" / "intro.mp4"  # parents do not exist yet
    script = Script(video())
    result = await make_xingyun(script).download(URL, dest)
    assert dest.read_bytes() == VIDEO
    assert result.sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert (result.path, result.bytes) == (dest, len(VIDEO))
    assert leftovers(dest.parent) == ["intro.mp4"]
    (req,) = script.requests
    assert req.method == "GET" and str(req.url) == URL and "x-token" not in req.headers


async def test_length_mismatch_leaves_no_file(tmp_path):
    dest = tmp_path / "v.mp4"
    short = video(VIDEO[:1000], **{"Content-Length": str(len(VIDEO))})
    with pytest.raises(TransientError, match="cut short"):
        await make_xingyun(Script(short), attempts=1).download(URL, dest)
    assert leftovers(tmp_path) == []


async def test_failure_keeps_the_old_file_intact(tmp_path):
    dest = tmp_path / "v.mp4"
    dest.write_bytes(b"old complete video")
    with pytest.raises(TransientError):
        await make_xingyun(Script(httpx.ReadError), attempts=2).download(URL, dest)
    assert dest.read_bytes() == b"old complete video"
    assert leftovers(tmp_path) == ["v.mp4"]


async def test_replace_is_atomic_no_partial_dest_while_streaming(tmp_path):
    dest = tmp_path / "v.mp4"
    dest.write_bytes(b"old")
    seen: list[bytes] = []

    class Watching(httpx.AsyncByteStream):
        async def __aiter__(self):
            for i in range(0, len(VIDEO), 50_000):
                seen.append(dest.read_bytes())  # what a reader sees mid-download
                yield VIDEO[i:i + 50_000]

    script = Script(lambda r: httpx.Response(200, stream=Watching(), headers={"Content-Length": str(len(VIDEO))}))
    await make_xingyun(script).download(URL, dest)
    assert seen and all(b == b"old" for b in seen)
    assert dest.read_bytes() == VIDEO


async def test_xingyun_download_retries_transient_failures(tmp_path):
    dest = tmp_path / "v.mp4"
    script = Script(httpx.Response(503), httpx.ReadTimeout, video())
    result = await make_xingyun(script).download(URL, dest)
    assert result.bytes == len(VIDEO) and len(script.requests) == 3


async def test_expired_url_is_permanent(tmp_path):
    with pytest.raises(PermanentError, match="expired or is gone"):
        await make_xingyun(Script(httpx.Response(403))).download(URL, tmp_path / "v.mp4")


async def test_one_shot_download_is_fetched_exactly_once(tmp_path):
    dest = tmp_path / "u.mp4"
    script = Script(video())
    result = await make_unisound(script).download(URL, dest)
    assert result.sha256 == hashlib.sha256(VIDEO).hexdigest()
    assert [r.method for r in script.requests] == ["GET"]


ONE_SHOT_FAILURES = [
    httpx.Response(503), httpx.ReadTimeout, httpx.RemoteProtocolError,
    video(VIDEO[:10], **{"Content-Length": "99999"}),
]


@pytest.mark.parametrize("failure", ONE_SHOT_FAILURES)
async def test_one_shot_get_that_failed_is_tried_again_while_the_link_serves(tmp_path, failure):
    """A file server's passing error must not cost a paid render: after a failed GET the
    link is either used (the next GET says so) or still good (the next GET gets the video)."""
    dest = tmp_path / "u.mp4"
    script = Script(failure, video())
    result = await make_unisound(script).download(URL, dest)
    assert result.sha256 == hashlib.sha256(VIDEO).hexdigest() and dest.read_bytes() == VIDEO
    assert len(script.requests) == 2
    assert leftovers(tmp_path) == ["u.mp4"]


@pytest.mark.parametrize("failure", ONE_SHOT_FAILURES)
async def test_one_shot_link_gone_after_a_failed_get_is_lost_output(tmp_path, failure):
    dest = tmp_path / "u.mp4"
    script = Script(failure, httpx.Response(410))
    with pytest.raises(PermanentError, match="output is lost: a re-render is needed") as info:
        await make_unisound(script).download(URL, dest)
    assert info.value.output_lost
    assert "; then the file server answered HTTP 410: the video URL has expired or is gone)" in str(info.value)
    assert len(script.requests) == 2  # the failed GET, then the one that says the link is used
    assert leftovers(tmp_path) == []


async def test_one_shot_link_gone_at_once_is_lost_output_without_a_second_get(tmp_path):
    script = Script(httpx.Response(410), video())
    with pytest.raises(PermanentError, match="output is lost") as info:
        await make_unisound(script).download(URL, tmp_path / "u.mp4")
    assert info.value.output_lost and len(script.requests) == 1


async def test_one_shot_failing_every_try_is_lost_output(tmp_path):
    script = Script(httpx.Response(503))
    with pytest.raises(PermanentError, match="output is lost") as info:
        await make_unisound(script, attempts=3).download(URL, tmp_path / "u.mp4")
    assert info.value.output_lost and len(script.requests) == 3


async def test_one_shot_connection_that_never_opened_is_tried_again(tmp_path):
    script = Script(httpx.ConnectError, httpx.ConnectTimeout, video())
    result = await make_unisound(script).download(URL, tmp_path / "u.mp4")
    assert result.bytes == len(VIDEO)
    assert len(script.requests) == 3  # two never left this machine; exactly one GET reached the server
    with pytest.raises(TransientError, match="nothing was sent"):  # still unused: not reported lost
        await make_unisound(Script(httpx.ConnectError), attempts=2).download(URL, tmp_path / "v.mp4")


async def test_unwritable_destination_is_permanent(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    script = Script(video())
    with pytest.raises(PermanentError, match="file where a folder must be; move it away") as info:
        await make_xingyun(script).download(URL, blocker / "v.mp4")
    assert info.value.local and "no new render is needed" in str(info.value)
    assert script.requests == []


HTML = b"<html><head><title>502 Bad Gateway</title></head><body>proxy error</body></html>\n"


async def test_an_html_page_served_with_200_is_not_published_and_is_fetched_again(tmp_path):
    """Issue 9 §1: checked for what it is, not only its length (Content-Length matches)."""
    dest = tmp_path / "v.mp4"
    dest.write_bytes(VIDEO)  # the old verified output of a replace
    script = Script(video(HTML), video(VIDEO[:-1000]), video(VIDEO + b"x"))
    with pytest.raises(TransientError, match="is not an MP4 video"):
        await make_xingyun(script, attempts=3).download(URL, dest)
    assert len(script.requests) == 3  # retried (with backoff) while the URL can be fetched again
    assert dest.read_bytes() == VIDEO and leftovers(tmp_path) == ["v.mp4"]
    script = Script(video(HTML), video())
    result = await make_xingyun(script).download(URL, tmp_path / "w.mp4")
    assert result.sha256 == hashlib.sha256(VIDEO).hexdigest() and len(script.requests) == 2


async def test_a_one_shot_body_that_is_not_a_video_is_kept_aside_and_reported_lost(tmp_path):
    dest = tmp_path / "u.mp4"
    script = Script(video(HTML), httpx.Response(410))  # the page used the link up
    with pytest.raises(PermanentError, match="output is lost") as info:
        await make_unisound(script).download(URL, dest)
    assert info.value.output_lost
    assert len(script.requests) == 2  # the page, then the answer that the link is gone
    assert not dest.exists()
    kept = info.value.kept
    assert kept is not None and kept.read_bytes() == HTML and kept.parent == tmp_path
    assert leftovers(tmp_path) == [kept.name]


async def test_a_one_shot_body_that_is_not_a_video_while_the_link_still_serves_is_fetched_again(tmp_path):
    dest = tmp_path / "u.mp4"
    script = Script(video(HTML), video())
    result = await make_unisound(script).download(URL, dest)
    assert dest.read_bytes() == VIDEO and result.bytes == len(VIDEO)
    assert leftovers(tmp_path) == ["u.mp4"]  # nothing kept aside once the video came


@pytest.mark.parametrize("blocked", ["folder", "file_in_path", "no_space"])
async def test_a_local_problem_before_the_one_shot_get_leaves_the_url_unused(tmp_path, monkeypatch, blocked):
    """Issue 9 §2: a local error before the single GET is not a loss: nothing is sent."""
    dest = tmp_path / "outputs" / "uni" / "a.mp4"
    if blocked == "folder":
        dest.mkdir(parents=True)
        expected = "a folder is where the video must go"
    elif blocked == "file_in_path":
        dest.parent.parent.mkdir()
        dest.parent.write_text("in the way")
        expected = "is a file where a folder must be"
    else:
        monkeypatch.setattr(download.shutil, "disk_usage", lambda path: type("U", (), {"free": 10 << 20})())
        expected = "only 10 MiB free"
    script = Script(video())
    with pytest.raises(PermanentError, match=expected) as info:
        await make_unisound(script).download(URL, dest)
    assert info.value.local and "output is lost" not in str(info.value)
    assert script.requests == []  # the one-shot URL is still unused


async def test_disk_full_while_writing_a_refetchable_video_is_a_local_error(tmp_path, monkeypatch):
    def full(fd, offset, size):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(download.os, "posix_fallocate", full)
    dest = tmp_path / "v.mp4"
    with pytest.raises(PermanentError, match="free disk space") as info:
        await make_xingyun(Script(video())).download(URL, dest)
    assert info.value.local and leftovers(tmp_path) == []
