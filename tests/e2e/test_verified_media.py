"""Verified media end to end (docs/outputs.md, CONTRACT §12): a download is published
only when it decodes fully. The simulator's ``damaged`` download fault serves an MP4
whose boxes are all in place and whose frames do not decode: never published, fetched
again while the link serves (Xingyun, no new render), kept aside and reported lost with
the reason for a one-shot link (Unisound). The manifest records what the decode
measured. Real console script, real `reconciler sim` process, both state backends, and a
real S3 server."""

from __future__ import annotations

import json

import pytest

from reconciler.errors import MediaError
from reconciler.media import verify
from reconciler.sim import media
from tests.e2e.support import assert_consistent, assert_no_duplicate_renders, assert_s3_consistent, on_both_backends

pytestmark = on_both_backends


def creates(sim) -> int:
    return len([e for e in sim.calls("create") if e["ok"]])


def test_a_damaged_xingyun_download_is_fetched_again_with_no_new_render(project, sim):
    project.write_specs(xingyun={"xy/a": "第一段讲解词。"})
    sim.faults({"queue": {"xingyun.download": ["damaged"]}})
    result = project.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [e["fault"] for e in sim.calls("download")] == ["damaged", None]
    assert creates(sim) == 1
    verify.probe(project.root / "outputs/xy/a.mp4")  # what is published plays
    assert_consistent(project)  # ... and is exactly the intact clip the sim serves, measured
    assert_no_duplicate_renders(project)


def test_a_damaged_one_shot_download_is_kept_aside_and_reported_lost_with_the_reason(project, sim):
    project.write_specs(unisound={"uni/a": "一段话"})
    sim.faults({"queue": {"unisound.download": ["damaged"]}})
    result = project.apply()
    assert result.returncode == 1
    video = project.recorded()["uni/a"]
    assert video.output_lost and not video.has_output
    assert "not a video that decodes" in video.error and "video data is damaged" in video.error, video.error
    assert "state/quarantine/" in video.error
    assert not (project.root / "outputs/uni/a.mp4").exists()
    (kept,) = (project.root / "state/quarantine").iterdir()
    with pytest.raises(MediaError):  # the bad bytes, as received, for a person to look at
        verify.probe(kept)
    entry = project.manifest()["videos"]["uni/a"]
    assert entry["file"] is None and entry["duration_s"] is None and "not a video that decodes" in entry["error"]
    assert "not a video that decodes" in result.stdout + result.stderr
    assert len(sim.calls("download")) == 2  # the damaged file, then the GET that hears the link is used
    assert creates(sim) == 1  # reported, not rendered again behind the user's back
    assert project.plan_actions() == {"uni/a": "replace"}


def test_the_manifest_records_each_outputs_measured_length_and_size(project, sim):
    texts = {"xy/short": "好。", "xy/long": "这一段讲解词比较长，要说上好几秒钟才能说完。" * 2}
    project.write_specs(xingyun=texts, unisound={"uni/a": "第一句。第二句！第三句？"})
    result = project.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    videos = project.manifest()["videos"]
    for address, entry in videos.items():
        info = verify.probe(project.root / entry["file"])
        assert (entry["width"], entry["height"]) == (info.width, info.height) == (media.WIDTH, media.HEIGHT)
        assert entry["duration_s"] == pytest.approx(info.duration_s, abs=0.001)
    second = "同期将举行多场论坛。"  # every Xingyun video of these specs has this second segment
    assert videos["xy/short"]["duration_s"] == media.spoken_seconds([texts["xy/short"], second])
    assert videos["xy/long"]["duration_s"] == media.spoken_seconds([texts["xy/long"], second])
    assert videos["xy/long"]["duration_s"] > 2 * videos["xy/short"]["duration_s"]
    assert videos["uni/a"]["duration_s"] == media.spoken_seconds(["第一句。第二句！第三句？"])
    status = project.run("status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout) == project.manifest()
    assert_consistent(project)


def test_with_a_bucket_a_damaged_clip_is_never_uploaded(s3_project, sim):
    project = s3_project
    project.write_specs(xingyun={"xy/a": "第一段。"}, unisound={"uni/a": "一段话"})
    sim.faults({"queue": {"xingyun.download": ["damaged"], "unisound.download": ["damaged"]}})
    result = project.apply()
    assert result.returncode == 1
    recorded = project.recorded()
    assert recorded["xy/a"].has_output and recorded["uni/a"].output_lost
    assert "not a video that decodes" in recorded["uni/a"].error
    assert creates(sim) == 2
    key = project.key("xy/a", recorded["xy/a"].output_sha256)
    assert set(project.objects(posters=True)) == {key, key.removesuffix(".mp4") + ".jpg"}  # the video and its poster only
    data = project.get(key)
    path = project.root / "fetched.mp4"
    path.write_bytes(data)
    assert verify.probe(path).duration_s == recorded["xy/a"].output_duration_s
    assert_s3_consistent(project, all_finished=False)


# -- posters (docs/outputs.md): outputs/<address>.jpg, or the object beside the video ----------


def _poster_size(path) -> tuple[int, int]:
    import av

    with av.open(str(path)) as image:
        frame = next(image.decode(video=0))
        return frame.width, frame.height


def test_every_verified_video_gets_a_poster_that_follows_it(project, sim):
    project.write_specs(xingyun={"xy/a": "第一段。"}, unisound={"uni/a": "一段话", "uni/b": "另一段话"})
    assert project.apply().returncode == 0
    outputs = project.root / "outputs"
    for address in ("xy/a", "uni/a", "uni/b"):
        assert _poster_size(outputs / f"{address}.jpg") == (media.WIDTH, media.HEIGHT)
    assert_consistent(project)  # a JPEG beside every published video, and no other file

    project.write_specs(xingyun={"xy/a": "第一段。"}, unisound={"uni/a": "一段话", "uni/c": "另一段话"})  # b -> c
    result = project.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    assert creates(sim) == 3  # a rename from the render cache: no render, and its poster moves too
    assert not (outputs / "uni/b.jpg").exists() and _poster_size(outputs / "uni/c.jpg") == (media.WIDTH, media.HEIGHT)
    project.write_specs(xingyun={"xy/a": "第一段。"}, unisound={"uni/a": "一段话"})  # a delete
    assert project.apply().returncode == 0
    assert not (outputs / "uni/c.jpg").exists() and not (outputs / "uni/c.mp4").exists()
    assert_consistent(project)


def test_with_a_bucket_the_poster_is_uploaded_beside_the_video_and_removed_with_it(s3_project, sim):
    project = s3_project
    project.write_specs(xingyun={"xy/a": "第一段。", "xy/b": "第二段。"})
    assert project.apply().returncode == 0
    assert_s3_consistent(project)  # checks a JPEG object beside every published video
    sha = project.recorded()["xy/b"].output_sha256
    poster_key = project.key("xy/b", sha).removesuffix(".mp4") + ".jpg"
    assert poster_key in project.objects(posters=True)
    project.write_specs(xingyun={"xy/a": "第一段。"})
    result = project.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    assert poster_key not in project.objects(posters=True)
    assert_s3_consistent(project)
