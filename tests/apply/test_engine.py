"""The engine against fake providers: what it writes to state, manifest and outputs,
and which vendor calls it makes, for every kind of change and answer."""

from __future__ import annotations

import asyncio
import hashlib
import json

from reconciler.errors import OutcomeUnknownError, PermanentError, TransientError
from reconciler.model import Action, Status
from reconciler.sim import media
from tests.fakes import Rig, change, plan, video


def run(coro):
    return asyncio.run(coro)


def manifest(rig: Rig) -> dict:
    return json.loads(rig.config.manifest_path.read_text())["videos"]


def test_create_renders_downloads_and_publishes(tmp_path):
    rig = Rig(tmp_path)
    a, b = video("a/one"), video("b", "unisound", "你好")
    run(rig.apply(plan(change(Action.CREATE, a), change(Action.CREATE, b))))
    rec = rig.store.recorded()
    for d in (a, b):
        r = rec[d.address]
        assert r.status is Status.FINISHED and r.fingerprint == d.fingerprint
        out = tmp_path / "outputs" / f"{d.address}.mp4"
        assert r.output_file == f"outputs/{d.address}.mp4"
        assert r.output_sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
        assert manifest(rig)[d.address]["sha256"] == r.output_sha256
    assert rec["a/one"].preview_image_url == f"http://fake/{rec['a/one'].task_id}.png"
    assert rig.engine.actions == {"a/one": Action.CREATE, "b": Action.CREATE}
    assert rig.engine.tally.counts() == {"finished": 2}
    attempts = rig.store.attempts()
    assert [a["status"] for a in attempts] == ["finished", "finished"]


def test_parallelism_bounds_concurrent_creates(tmp_path):
    rig = Rig(tmp_path)
    rig.engine = rig.new_engine(parallelism=3)
    rig.providers["xingyun"].wait_for_concurrent = 3  # a slow machine must not keep the bound from being reached
    p = plan(*(change(Action.CREATE, video(f"v{i:02d}")) for i in range(20)))
    run(rig.apply(p))
    assert rig.providers["xingyun"].max_concurrent == 3
    assert len(rig.providers["xingyun"].kinds("submit")) == 20


def test_lost_create_answer_is_unknown_and_not_resent(tmp_path):
    rig = Rig(tmp_path)
    rig.providers["xingyun"].submit_errors.append(OutcomeUnknownError("answer lost", provider="xingyun"))
    run(rig.apply(plan(change(Action.CREATE, video("a")))))
    r = rig.store.get("a")
    assert r.status is Status.UNKNOWN and "answer lost" in r.error
    assert len(rig.providers["xingyun"].kinds("submit")) == 1
    assert rig.engine.tally.counts() == {"unknown": 1}
    assert manifest(rig)["a"]["status"] == "unknown"


def test_refused_create_is_failed(tmp_path):
    rig = Rig(tmp_path)
    rig.providers["unisound"].submit_errors.append(PermanentError("quota exhausted", provider="unisound", code=23907))
    run(rig.apply(plan(change(Action.CREATE, video("a", "unisound")))))
    assert rig.store.get("a").status is Status.FAILED
    assert rig.engine.errors["a"] == "quota exhausted"


def test_create_that_never_left_is_forgotten(tmp_path):
    rig = Rig(tmp_path)
    exc = TransientError("could not reach the vendor", provider="xingyun", sent=False)
    rig.providers["xingyun"].submit_errors.append(exc)
    run(rig.apply(plan(change(Action.CREATE, video("a")))))
    assert rig.store.get("a") is None
    assert [a["status"] for a in rig.store.attempts()] == ["not_sent"]
    assert rig.engine.tally.counts() == {"failed": 1}


def test_render_failure_at_vendor_is_recorded(tmp_path):
    rig = Rig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("a", text="SIM_FAIL")))))
    r = rig.store.get("a")
    assert r.status is Status.FAILED and r.error == "render failed" and r.output_file is None


def test_replace_keeps_old_output_until_new_one_is_verified(tmp_path):
    rig = Rig(tmp_path)
    old = video("a", text="v1")
    run(rig.apply(plan(change(Action.CREATE, old))))
    first = rig.store.get("a")
    old_bytes = (tmp_path / "outputs/a.mp4").read_bytes()

    async def scenario():
        rig.engine = rig.new_engine()
        xy = rig.providers["xingyun"]
        xy.hold.clear()  # the new render does not finish until we say so
        new = video("a", text="v2")
        waiting = asyncio.ensure_future(asyncio.gather(rig.engine.execute(plan(change(Action.REPLACE, new, first))),
                                                       rig.engine.wait()))
        while len(xy.kinds("status")) < 3:
            await asyncio.sleep(0.01)
        await rig.engine.manifest.aflush()
        mid = rig.store.get("a")
        assert mid.status is Status.RENDERING and mid.fingerprint == new.fingerprint
        assert mid.output_sha256 == first.output_sha256 and mid.output_fingerprint == old.fingerprint
        assert (tmp_path / "outputs/a.mp4").read_bytes() == old_bytes
        assert manifest(rig)["a"]["sha256"] == first.output_sha256
        xy.hold.set()
        await waiting
        await rig.engine.close()

    run(scenario())
    done = rig.store.get("a")
    assert done.status is Status.FINISHED and done.output_task_id == done.task_id != first.task_id
    assert done.output_sha256 == hashlib.sha256((tmp_path / "outputs/a.mp4").read_bytes()).hexdigest()
    assert manifest(rig)["a"]["sha256"] == done.output_sha256 != first.output_sha256


def _unfinished(rig: Rig, d):
    """Submit ``d`` without waiting: it stays rendering."""
    run(rig.apply(plan(change(Action.CREATE, d)), wait=False))
    rig.engine = rig.new_engine()
    return rig.store.get(d.address)


def test_replace_cancels_unfinished_xingyun_render(tmp_path):
    rig = Rig(tmp_path)
    first = _unfinished(rig, video("a", text="v1"))
    run(rig.apply(plan(change(Action.REPLACE, video("a", text="v2"), first))))
    xy = rig.providers["xingyun"]
    assert xy.kinds("cancel") == [("cancel", first.task_id)]
    outcomes = {a["task_id"]: a["outcome"] for a in rig.store.attempts("a")}
    assert outcomes[first.task_id] == "cancelled"
    assert ("a", "old_cancelled") in rig.kinds()
    assert rig.store.get("a").status is Status.FINISHED


def test_replace_abandons_unfinished_unisound_render(tmp_path):
    rig = Rig(tmp_path)
    first = _unfinished(rig, video("a", "unisound", "v1"))
    run(rig.apply(plan(change(Action.REPLACE, video("a", "unisound", "v2"), first))))
    assert rig.providers["unisound"].kinds("cancel") == []
    outcomes = {a["task_id"]: a["outcome"] for a in rig.store.attempts("a")}
    assert outcomes[first.task_id] == "abandoned"
    event = [e for e in rig.hooks.events if e.kind.value == "old_abandoned"][0]
    assert "no cancel API" in event.detail


def test_delete_cancels_forgets_and_removes_the_file(tmp_path):
    rig = Rig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("x/done")))))
    rig.engine = rig.new_engine()
    pending = _unfinished(rig, video("x/running"))
    done = rig.store.get("x/done")
    assert (tmp_path / "outputs/x/done.mp4").exists()
    run(rig.apply(plan(change(Action.DELETE, None, done), change(Action.DELETE, None, pending))))
    assert rig.store.recorded() == {}
    assert not (tmp_path / "outputs/x").exists()  # the emptied folder goes too
    assert rig.providers["xingyun"].kinds("cancel") == [("cancel", pending.task_id)]
    assert manifest(rig) == {}


def test_delete_never_removes_a_file_outside_its_managed_path(tmp_path):
    rig = Rig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("a")))))
    keep = tmp_path / "precious.mp4"
    keep.write_bytes(b"x")
    r = rig.store.get("a")
    from dataclasses import replace

    rig.engine = rig.new_engine()
    run(rig.apply(plan(change(Action.DELETE, None, replace(r, output_file="precious.mp4")))))
    assert keep.exists()


def test_update_makes_no_vendor_call(tmp_path):
    rig = Rig(tmp_path)
    d = video("a")
    run(rig.apply(plan(change(Action.CREATE, d))))
    calls = len(rig.providers["xingyun"].calls)
    from dataclasses import replace

    rig.engine = rig.new_engine()
    newer = replace(d, labels={"owner": "me"}, prevent_destroy=True)
    run(rig.apply(plan(change(Action.UPDATE, newer, rig.store.get("a")))))
    assert len(rig.providers["xingyun"].calls) == calls
    r = rig.store.get("a")
    assert r.labels == {"owner": "me"} and r.prevent_destroy and r.status is Status.FINISHED
    assert manifest(rig)["a"]["labels"] == {"owner": "me"}


def test_a_moved_video_is_a_noop_that_records_its_new_spec_file(tmp_path):
    from dataclasses import replace

    rig = Rig(tmp_path)
    d = video("a")
    run(rig.apply(plan(change(Action.CREATE, d))))
    calls = len(rig.providers["xingyun"].calls)
    rig.engine = rig.new_engine()
    moved = replace(d, spec_file="specs/b.yaml")
    run(rig.apply(plan(change(Action.NOOP, moved, rig.store.get("a")))))
    assert len(rig.providers["xingyun"].calls) == calls
    assert rig.store.get("a").spec_file == "specs/b.yaml"
    assert manifest(rig)["a"]["spec_file"] == "specs/b.yaml"


def test_one_shot_download_failure_marks_output_lost(tmp_path):
    rig = Rig(tmp_path)
    rig.providers["unisound"].download_errors.append(
        PermanentError("served once", provider="unisound", output_lost=True))
    run(rig.apply(plan(change(Action.CREATE, video("a", "unisound")))))
    r = rig.store.get("a")
    assert r.output_lost and r.status is Status.FINISHED
    assert len(rig.providers["unisound"].kinds("download")) == 1
    assert rig.engine.tally.counts() == {"failed": 1}


def test_one_shot_download_that_never_connected_is_tried_again(tmp_path, monkeypatch):
    monkeypatch.setattr("reconciler.apply.follow.DOWNLOAD_RETRY_DELAY", 0.01)
    rig = Rig(tmp_path)
    rig.providers["unisound"].download_errors.append(TransientError("connection refused", provider="unisound"))
    run(rig.apply(plan(change(Action.CREATE, video("a", "unisound")))))
    r = rig.store.get("a")
    assert r.has_output and not r.output_lost
    assert len(rig.providers["unisound"].kinds("download")) == 2


def test_refetchable_download_is_retried_with_a_fresh_url(tmp_path, monkeypatch):
    monkeypatch.setattr("reconciler.apply.follow.DOWNLOAD_RETRY_DELAY", 0.01)
    rig = Rig(tmp_path)
    rig.providers["xingyun"].download_errors.append(TransientError("cut short", provider="xingyun"))
    run(rig.apply(plan(change(Action.CREATE, video("a")))))
    assert rig.store.get("a").has_output
    assert len(rig.providers["xingyun"].kinds("download")) == 2


def test_transient_status_errors_are_polled_again(tmp_path):
    rig = Rig(tmp_path)
    xy = rig.providers["xingyun"]
    xy.status_errors += [TransientError("503", provider="xingyun")] * 2
    run(rig.apply(plan(change(Action.CREATE, video("a")))))
    assert rig.store.get("a").status is Status.FINISHED
    assert len(xy.kinds("status")) == 3


def test_task_not_found_is_failed(tmp_path):
    rig = Rig(tmp_path)
    rig.providers["xingyun"].status_errors.append(PermanentError("task not found", provider="xingyun", code=30004))
    run(rig.apply(plan(change(Action.CREATE, video("a")))))
    assert rig.store.get("a").status is Status.FAILED


def test_auth_error_on_status_leaves_render_recorded_as_rendering(tmp_path):
    rig = Rig(tmp_path)
    rig.providers["xingyun"].status_errors.append(PermanentError("bad signature", provider="xingyun", code=20002))
    run(rig.apply(plan(change(Action.CREATE, video("a")))))
    assert rig.store.get("a").status is Status.RENDERING
    assert rig.engine.tally.counts() == {"failed": 1}


def test_stop_skips_changes_not_yet_started(tmp_path):
    rig = Rig(tmp_path)

    async def scenario():
        stop = asyncio.Event()
        stop.set()
        await rig.engine.execute(plan(change(Action.CREATE, video("a"))), stop)
        await rig.engine.wait(stop)
        await rig.engine.close()

    run(scenario())
    assert rig.store.recorded() == {} and rig.providers["xingyun"].calls == []
    assert rig.engine.tally.counts() == {"skipped": 1}


def test_track_unfinished_recovers_pending_and_collects_rendering(tmp_path):
    rig = Rig(tmp_path)
    rendering = _unfinished(rig, video("r"))
    rig.store.begin_attempt(video("p"), "a dead apply")  # an intent whose create may have been sent

    async def scenario():
        assert await rig.engine.track_unfinished() == 1
        await rig.engine.wait()
        await rig.engine.close()

    run(scenario())
    assert rig.store.get("p").status is Status.UNKNOWN
    r = rig.store.get("r")
    assert r.status is Status.FINISHED and r.task_id == rendering.task_id and r.has_output
    assert len(rig.providers["xingyun"].kinds("submit")) == 1  # nothing re-sent
    assert ("p", "recovered") in rig.kinds() and ("r", "tracking") in rig.kinds()


def test_finished_but_not_downloaded_is_picked_up(tmp_path):
    rig = Rig(tmp_path)
    r = _unfinished(rig, video("a"))
    rig.store.record_task("a", r.task_id, Status.FINISHED, video_url="http://fake/x.mp4")  # then a crash

    async def scenario():
        await rig.engine.track_unfinished()
        await rig.engine.poll_once()
        await rig.engine.close()

    run(scenario())
    assert rig.store.get("a").has_output


def test_check_outputs_fetches_damaged_files_again_and_loses_only_one_shot_ones(tmp_path):
    """Issue 9 §2: a published file missing, changed or not a video is fetched again from a
    vendor whose links can be fetched again (no new render); a one-shot output is lost."""
    rig = Rig(tmp_path)
    run(rig.apply(plan(*(change(Action.CREATE, video(a)) for a in ("a", "b", "c", "d")),
                       change(Action.CREATE, video("u", "unisound")))))
    before = rig.store.recorded()
    html = b"<html>502 Bad Gateway</html>"
    (tmp_path / "outputs/a.mp4").unlink()
    (tmp_path / "outputs/b.mp4").write_bytes(b"edited")
    (tmp_path / "outputs/c.mp4").write_bytes(html)  # as an old version published it: recorded as is
    rig.store.record_output("c", before["c"].task_id, "outputs/c.mp4", hashlib.sha256(html).hexdigest(), len(html))
    (tmp_path / "outputs/u.mp4").unlink()
    downloads = len(rig.providers["xingyun"].kinds("download"))
    rig.engine = rig.new_engine()

    async def check():
        lost = await rig.engine.check_outputs()
        await rig.engine.close()
        return lost

    assert run(check()) == ["u"]
    rec = rig.store.recorded()
    for a in ("a", "b", "c", "d"):
        assert rec[a].has_output and rec[a].task_id == before[a].task_id, a
        assert hashlib.sha256((tmp_path / f"outputs/{a}.mp4").read_bytes()).hexdigest() == rec[a].output_sha256
    assert len(rig.providers["xingyun"].kinds("download")) == downloads + 3
    assert rec["u"].output_lost and "missing" in rec["u"].error
    assert not rig.providers["xingyun"].kinds("submit")[4:]  # nothing rendered again
    assert manifest(rig)["a"]["file"] == "outputs/a.mp4" and manifest(rig)["u"]["file"] is None


def _deck_video(tmp_path, data: bytes):
    from dataclasses import replace

    (tmp_path / "decks").mkdir(exist_ok=True)
    (tmp_path / "decks/a.pptx").write_bytes(data)
    return replace(video("deck"), ppt_file="decks/a.pptx", ppt_sha256=hashlib.sha256(data).hexdigest())


def test_ppt_request_uploads_exactly_the_fingerprinted_deck(tmp_path):
    rig = Rig(tmp_path)
    d = _deck_video(tmp_path, b"deck v1")
    run(rig.apply(plan(change(Action.CREATE, d))))
    assert rig.providers["xingyun"].uploaded == [("a.pptx", b"deck v1")]
    assert rig.store.get("deck").status is Status.FINISHED
    assert not list((tmp_path / "state").glob(".deck-*"))  # the private copy is gone


def test_a_deck_edited_after_the_specs_were_read_is_not_sent(tmp_path):
    """Issue 9 §3: never upload bytes other than those in the fingerprint."""
    rig = Rig(tmp_path)
    d = _deck_video(tmp_path, b"deck v1")
    (tmp_path / "decks/a.pptx").write_bytes(b"deck v2, saved during the apply")
    run(rig.apply(plan(change(Action.CREATE, d))))
    assert rig.providers["xingyun"].kinds("submit") == []
    assert rig.store.get("deck") is None and rig.store.attempts() == []  # nothing recorded: not sent
    assert "changed since the specs were read" in rig.engine.errors["deck"]
    assert rig.engine.tally.counts() == {"failed": 1}


def test_manifest_writes_are_batched(tmp_path, monkeypatch):
    from reconciler.state import manifest as manifest_mod

    writes = []
    real = manifest_mod.write_manifest
    monkeypatch.setattr(manifest_mod, "write_manifest", lambda p, r: (writes.append(len(r)), real(p, r)))
    rig = Rig(tmp_path)
    run(rig.apply(plan(*(change(Action.CREATE, video(f"v{i:03d}")) for i in range(60)))))
    assert len(writes) < 20  # 60 videos x 3 manifest-changing events each
    assert len(manifest(rig)) == 60 and all(v["status"] == "finished" for v in manifest(rig).values())


def test_change_and_render_functions_are_given_a_context_not_the_engine():
    """Issue 8: executor and follow receive a RunContext; nothing below the engine imports it."""
    import ast
    import inspect

    from reconciler.apply import context, executor, follow

    for module in (context, executor, follow):
        tree = ast.parse(inspect.getsource(module))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert "reconciler.apply.engine" not in imported, module.__name__
        names = {a.arg for f in ast.walk(tree) if isinstance(f, ast.AsyncFunctionDef) for a in f.args.args}
        assert "engine" not in names, module.__name__


def _local(message: str = "no space left", provider: str = "xingyun") -> PermanentError:
    return PermanentError(f"{provider}: download: could not write: {message}. free disk space", provider=provider,
                          local=True)


def _refresh(rig: Rig):
    async def go():
        await rig.engine.track_unfinished()
        await rig.engine.poll_once()
        lost = await rig.engine.check_outputs()
        await rig.engine.close()
        return lost

    rig.engine = rig.new_engine()
    return run(go())


def test_a_local_write_failure_is_not_a_loss_and_the_next_refresh_downloads_it(tmp_path):
    """Issue 9 §2: disk full (etc.) is an error to fix; the render stays finished, not
    downloaded, and is fetched later without a new render, even for a one-shot URL."""
    rig = Rig(tmp_path)
    for name in ("xingyun", "unisound"):
        rig.providers[name].download_errors += [_local(provider=name)] * 5
    run(rig.apply(plan(change(Action.CREATE, video("x")), change(Action.CREATE, video("u", "unisound")))))
    for address, name in (("x", "xingyun"), ("u", "unisound")):
        r = rig.store.get(address)
        assert r.status is Status.FINISHED and not r.output_lost and not r.has_output, address
        assert len(rig.providers[name].kinds("download")) == 1  # no quick retries that would count as a loss
        assert "free disk space" in rig.engine.errors[address]
    assert manifest(rig)["x"]["status"] == "finished" and manifest(rig)["x"]["file"] is None
    for name in ("xingyun", "unisound"):
        rig.providers[name].download_errors.clear()
    assert _refresh(rig) == []
    for address in ("x", "u"):
        assert rig.store.get(address).has_output
    assert len(rig.providers["xingyun"].kinds("submit")) == 1 and len(rig.providers["unisound"].kinds("submit")) == 1


def test_a_replace_whose_new_output_is_lost_keeps_the_old_output_published(tmp_path):
    """Issue 9 §1: state and manifest keep file, sha256 and bytes of the old verified output."""
    rig = Rig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("u", "unisound", "v1")))))
    old = rig.store.get("u")
    old_bytes = (tmp_path / "outputs/u.mp4").read_bytes()
    rig.providers["unisound"].download_errors.append(
        PermanentError("served once: not an MP4 video", provider="unisound", output_lost=True))
    rig.engine = rig.new_engine()
    run(rig.apply(plan(change(Action.REPLACE, video("u", "unisound", "v2"), old))))
    r = rig.store.get("u")
    assert (r.output_file, r.output_sha256, r.output_bytes) == (old.output_file, old.output_sha256, old.output_bytes)
    assert r.has_output and r.output_task_id == old.task_id and r.task_id != old.task_id
    entry = manifest(rig)["u"]
    assert (entry["file"], entry["sha256"], entry["bytes"]) == (old.output_file, old.output_sha256, old.output_bytes)
    assert (tmp_path / "outputs/u.mp4").read_bytes() == old_bytes
    from reconciler.model import PlanOptions
    from reconciler.planning import planner as planning

    again = planning.make_plan({"u": video("u", "unisound", "v2")}, rig.store.recorded(), PlanOptions())
    assert again.changes[0].action is Action.REPLACE  # the lost new render is proposed again, visibly


def test_bytes_of_a_used_one_shot_url_that_are_not_a_video_are_quarantined(tmp_path):
    rig = Rig(tmp_path)
    kept = tmp_path / "outputs" / ".u.mp4.x1.rejected"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"<html>502</html>")
    error = PermanentError("unisound: download: the single allowed download failed", provider="unisound",
                           output_lost=True, kept=kept)
    rig.providers["unisound"].download_errors.append(error)
    run(rig.apply(plan(change(Action.CREATE, video("u", "unisound")))))
    r = rig.store.get("u")
    assert r.output_lost and "state/quarantine/u.task-" in r.error
    (quarantined,) = (tmp_path / "state/quarantine").iterdir()
    assert quarantined.read_bytes() == b"<html>502</html>" and not kept.exists()


def test_a_download_renamed_into_place_but_never_recorded_is_adopted(tmp_path):
    """Issue 9 §2: a crash between the rename and its record costs no download and no render."""
    from reconciler.outputs import rules as outputs

    rig = Rig(tmp_path)
    r = _unfinished(rig, video("u", "unisound"))
    dest = tmp_path / "outputs/u.mp4"
    assert rig.store.record_task("u", r.task_id, Status.FINISHED, video_url="http://fake/u.mp4", downloading=True,
                                 download_prior=outputs.identity(dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    data = media.base_clip() + media.free_box(b"served once")
    dest.write_bytes(data)  # renamed into place; then the process was killed
    rig.providers["unisound"].tasks[r.task_id]["polls"] = 5
    assert _refresh(rig) == []
    got = rig.store.get("u")
    assert got.has_output and got.output_sha256 == hashlib.sha256(data).hexdigest()
    assert rig.providers["unisound"].kinds("download") == []


def test_a_file_in_place_that_is_not_what_the_download_wrote_is_not_adopted(tmp_path):
    from reconciler.outputs import rules as outputs

    rig = Rig(tmp_path)
    r = _unfinished(rig, video("x"))
    dest = tmp_path / "outputs/x.mp4"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(b"<html>not a video</html>")
    assert rig.store.record_task("x", r.task_id, Status.FINISHED, video_url="http://fake/x.mp4", downloading=True,
                                 download_prior=outputs.identity(dest))  # killed before the GET
    assert _refresh(rig) == []
    assert rig.store.get("x").has_output and len(rig.providers["xingyun"].kinds("download")) == 1


def test_plan_notices_a_published_file_that_is_not_a_video(tmp_path):
    """Issue 9 §1: same size as recorded (as an old version published it) but not an MP4."""
    from reconciler.outputs import local

    rig = Rig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("x")), change(Action.CREATE, video("u", "unisound")))))
    recorded = rig.store.recorded()
    for address in ("x", "u"):
        size = recorded[address].output_bytes
        (tmp_path / f"outputs/{address}.mp4").write_bytes(b"<html>" + b" " * (size - 6))
    noticed = local.notice_missing(rig.config, recorded)
    assert noticed["u"].output_lost and "is not a video" in noticed["u"].error
    assert not noticed["x"].output_lost and noticed["x"].output_file is None  # fetched again, not rendered
    assert "it starts with an HTML/XML page" in noticed["x"].error


def test_a_published_file_this_machine_cannot_read_is_reported_not_lost(tmp_path, monkeypatch):
    """Issue 9 §2: a permission problem is a local error, not a loss that costs a render."""
    from reconciler.outputs import local
    from reconciler.outputs import rules as outputs

    rig = Rig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("u", "unisound")))))

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(outputs, "sha256_of", denied)
    monkeypatch.setattr(outputs.mp4, "problem", denied)
    assert _refresh(rig) == []
    assert rig.store.get("u").has_output
    assert "cannot be read (Permission denied): fix its permissions" in rig.engine.errors["u"]
    assert local.notice_missing(rig.config, rig.store.recorded())["u"].has_output  # plan: no render


def test_a_missing_output_whose_link_the_vendor_no_longer_serves_is_lost_after_a_few_tries(tmp_path, monkeypatch):
    """Fetched again while the link works; a link gone for good (HTTP 404) makes it lost
    within the same refresh, so the next plan proposes the render (never a silent loop)."""
    monkeypatch.setattr("reconciler.apply.follow.DOWNLOAD_RETRY_DELAY", 0.01)
    rig = Rig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("x")))))
    (tmp_path / "outputs/x.mp4").unlink()
    rig.providers["xingyun"].download_errors += [PermanentError("HTTP 404: expired", provider="xingyun", code=404)] * 3
    assert _refresh(rig) == ["x"]
    assert rig.store.get("x").output_lost and len(rig.providers["xingyun"].kinds("download")) == 4
