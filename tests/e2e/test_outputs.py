"""Issue 9 §1-3 end to end: only a verified video is published, a local failure is not
a vendor loss, and a deck is uploaded exactly as fingerprinted. The real console
script against the simulator over loopback; the cases that record a loss, a replace or
a crash's adoption run on both state backends."""

from __future__ import annotations

import signal

from tests.e2e.support import assert_consistent, assert_no_duplicate_renders, on_both_backends, wait_until
from tests.helpers import tiny_pptx

HTML_START = b"<html>"


def _one_shot_fingerprints(project, sim, addresses) -> frozenset[str]:
    tasks = {project.recorded()[a].task_id for a in addresses}
    return frozenset(e["fingerprint"] for e in sim.calls("create") if e["task_id"] in tasks)


def test_an_html_page_served_as_the_video_is_never_published_and_is_fetched_again(project, sim):
    project.write_specs(xingyun={"xy/a": "a"})
    sim.faults({"queue": {"xingyun.download": ["html"]}})
    result = project.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [e["fault"] for e in sim.calls("download")] == ["html", None]
    assert not (project.root / "outputs/xy/a.mp4").read_bytes().startswith(HTML_START)
    assert_consistent(project)


@on_both_backends
def test_a_used_one_shot_url_that_served_an_html_page_is_lost_with_the_bytes_kept(project, sim):
    project.write_specs(unisound={"uni/a": "a"})
    sim.faults({"queue": {"unisound.download": ["html"]}})
    result = project.apply()
    assert result.returncode == 1
    video = project.recorded()["uni/a"]
    assert video.output_lost and "is not an MP4 video" in video.error and "state/quarantine/" in video.error
    assert not (project.root / "outputs/uni/a.mp4").exists()
    (kept,) = (project.root / "state/quarantine").iterdir()
    assert kept.read_bytes().startswith(HTML_START)
    entry = project.manifest()["videos"]["uni/a"]
    assert entry["file"] is None and "not an MP4 video" in entry["error"]
    assert project.plan_actions() == {"uni/a": "replace"}
    assert len(sim.calls("download")) == 2  # the page, then the GET that hears the link is used: no more


@on_both_backends
def test_a_replace_whose_new_download_fails_keeps_the_old_output_published(project, sim):
    project.write_specs(unisound={"uni/a": "v1"})
    assert project.apply().returncode == 0
    old = project.recorded()["uni/a"]
    old_entry = project.manifest()["videos"]["uni/a"]
    old_bytes = (project.root / "outputs/uni/a.mp4").read_bytes()
    project.write_specs(unisound={"uni/a": "v2"})
    sim.faults({"queue": {"unisound.download": ["html"]}})
    result = project.apply()
    assert result.returncode == 1
    video = project.recorded()["uni/a"]
    assert video.task_id != old.task_id and video.has_output
    assert (video.output_file, video.output_sha256, video.output_bytes) == (
        old.output_file, old.output_sha256, old.output_bytes)
    entry = project.manifest()["videos"]["uni/a"]
    assert (entry["file"], entry["sha256"], entry["bytes"]) == (old_entry["file"], old_entry["sha256"],
                                                                old_entry["bytes"])
    assert (project.root / "outputs/uni/a.mp4").read_bytes() == old_bytes
    assert project.plan_actions() == {"uni/a": "replace"}  # the lost new render is proposed again
    again = project.apply()
    assert again.returncode == 0, again.stdout + again.stderr
    assert_consistent(project)


def test_a_blocked_output_path_is_an_error_to_fix_not_a_loss(project, sim):
    """A file where the outputs folder must be, a folder where the video must go: the
    message says what to fix, nothing is lost (the one-shot URL is not even used), the
    plan proposes no render, and once fixed `refresh` downloads both."""
    project.write_specs(xingyun={"xy/a": "a"}, unisound={"uni/a": "a"})
    outputs = project.root / "outputs"
    outputs.mkdir()
    (outputs / "uni").write_text("a file where the folder must be")
    (outputs / "xy/a.mp4").mkdir(parents=True)
    result = project.apply()
    assert result.returncode == 1
    text = result.stdout + result.stderr
    assert "is a file where a folder must be; move it away" in text, text
    assert "a folder is where the video must go" in text, text
    assert "output lost" not in text and "need a new render" not in text
    recorded = project.recorded()
    for address in ("xy/a", "uni/a"):
        assert recorded[address].status.value == "finished" and not recorded[address].output_lost, address
    assert sim.calls("download", "unisound") == []  # the one-shot URL is still unused
    assert project.plan_actions() == {"xy/a": "noop", "uni/a": "noop"}
    creates = len(sim.calls("create"))
    (outputs / "uni").unlink()
    (outputs / "xy/a.mp4").rmdir()
    refresh = project.run("refresh")
    assert refresh.returncode == 0, refresh.stdout + refresh.stderr
    assert len(sim.calls("create")) == creates
    assert_consistent(project)
    assert_no_duplicate_renders(project)


@on_both_backends
def test_a_crash_between_a_one_shot_download_and_its_record_adopts_the_file(project, sim):
    """The file was renamed into place, then the process died: the next apply verifies
    and records it. No second GET (the URL serves once), no loss, no new render."""
    project.write_specs(unisound={"uni/a": "a", "uni/b": "b"})
    # killed after the *second* download: the first one is then verified and renamed too (a kill
    # while another one-shot GET or its decode is still under way would lose that one: nothing can
    # keep bytes a killed process has not written)
    crashed = project.start("apply", "--auto-approve", RECONCILER_TEST_CRASH_AT="after_download:2")
    crashed.communicate(timeout=60)
    assert crashed.returncode == -signal.SIGKILL
    downloads = len(sim.calls("download"))
    again = project.apply_when_free()
    assert again.returncode == 0, again.stdout + again.stderr
    assert not any(v.output_lost for v in project.recorded().values())
    assert len(sim.calls("create")) == 2
    assert len(sim.calls("download")) <= 2 and downloads >= 1
    assert [e for e in sim.calls("download") if e["http_status"] == 410] == []
    assert_consistent(project)
    assert_no_duplicate_renders(project)


@on_both_backends
def test_a_deck_edited_while_an_apply_runs_is_not_sent_with_the_old_fingerprint(project, sim):
    """Issue 9 §3: the deck changes after the specs were read: the create is refused as
    not sent (no upload, nothing recorded), and the next apply renders the new deck."""
    project.root.joinpath("reconciler.yaml").write_text("parallelism: 1\n")
    project.write_specs(xingyun={"xy/a": "a"}, deck=True)  # xy/a goes first, then xy/deck
    sim.faults({"queue": {"xingyun.create": [{"fault": "slow", "delay_ms": 1500}]}})
    proc = project.start("apply", "--auto-approve")
    wait_until(lambda: sim.calls("create"), what="the first create")
    (project.root / "decks/deck.pptx").write_bytes(tiny_pptx("Edited while the apply runs"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "decks/deck.pptx changed since the specs were read" in out + err
    assert sim.calls("parse_ppt") == [] and len(sim.calls("create")) == 1
    assert "xy/deck" not in project.recorded()
    assert project.plan_actions() == {"xy/a": "noop", "xy/deck": "create"}
    again = project.apply()
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(sim.calls("parse_ppt")) == 1
    assert_consistent(project)
