"""The engine with outputs in a bucket (docs/outputs.md), against fake providers and an
in-memory bucket: what is uploaded, when it is published, and that a bucket failure
is never a lost output, a second download of a one-shot link or a second render."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json

from reconciler.errors import OutputsError
from reconciler.model import Action, Status
from tests.fakes import BucketRig, change, plan, video


def run(coro):
    return asyncio.run(coro)


def manifest(rig) -> dict:
    return json.loads(rig.config.manifest_path.read_text())["videos"]


def key_of(url: str) -> str:
    return url.removeprefix("s3://videos/")


def again(rig) -> None:
    """A later `apply`/`refresh`: a new engine picks up what the state says is unfinished."""
    rig.engine = rig.new_engine()

    async def go():
        await rig.engine.track_unfinished()
        await rig.engine.wait()
        await rig.engine.close()

    run(go())


def test_a_download_is_uploaded_confirmed_then_published_and_the_staging_file_goes(tmp_path):
    rig = BucketRig(tmp_path)
    a, b = video("launch/intro"), video("faq/q1", "unisound", "你好")
    run(rig.apply(plan(change(Action.CREATE, a), change(Action.CREATE, b))))
    for d in (a, b):
        r = rig.store.get(d.address)
        key = f"launch/{d.address}/{r.output_sha256}.mp4"
        assert r.status is Status.FINISHED and r.output_file == f"s3://videos/{key}"
        data, sha_meta = rig.bucket.objects[key]
        assert sha_meta == r.output_sha256 == hashlib.sha256(data).hexdigest() and r.output_bytes == len(data)
        assert manifest(rig)[d.address]["file"] == r.output_file and "url" not in manifest(rig)[d.address]
        # the render cache is a server-side copy in the bucket
        assert rig.bucket.objects[f"launch/.cache/{d.fingerprint}.mp4"] == rig.bucket.objects[key]
    assert not list((tmp_path / "state/uploads").rglob("*.mp4")) and not (tmp_path / "outputs").exists()


def test_an_upload_that_fails_keeps_the_staged_file_and_the_next_run_uploads_it_without_a_new_get(tmp_path):
    rig = BucketRig(tmp_path)
    rig.bucket.down = True
    run(rig.apply(plan(change(Action.CREATE, video("faq/q1", "unisound", "你好")))))
    r = rig.store.get("faq/q1")
    assert r.status is Status.FINISHED and r.output_file is None and not r.output_lost  # finished, not published
    staged = tmp_path / "state/uploads/faq/q1.mp4"
    assert staged.is_file()
    assert "cannot connect" in rig.engine.errors["faq/q1"] and "state/uploads/faq/q1.mp4" in rig.engine.errors["faq/q1"]
    rig.bucket.down = False
    again(rig)
    r = rig.store.get("faq/q1")
    assert r.output_file == f"s3://videos/launch/faq/q1/{r.output_sha256}.mp4" and not r.output_lost
    unisound = rig.providers["unisound"]
    assert len(unisound.kinds("download")) == 1 and len(unisound.kinds("submit")) == 1  # the one-shot link used once
    assert not staged.exists()
    assert manifest(rig)["faq/q1"]["file"] == r.output_file


def test_a_refused_upload_is_said_with_the_fix_and_is_not_a_loss(tmp_path):
    rig = BucketRig(tmp_path)
    rig.bucket.failures["put"] = [OutputsError("uploading x in the bucket videos at http://fake failed: the service "
                                               "refused the credentials (HTTP 403 AccessDenied): check AWS_ACCESS_KEY_ID")]
    run(rig.apply(plan(change(Action.CREATE, video("a")))))
    assert "HTTP 403" in rig.engine.errors["a"] and "nothing is lost" in rig.engine.errors["a"]
    assert rig.store.get("a").output_file is None and not rig.store.get("a").output_lost
    again(rig)
    assert rig.store.get("a").has_output and len(rig.providers["xingyun"].kinds("download")) == 1


def test_an_upload_whose_head_disagrees_is_not_published(tmp_path):
    rig = BucketRig(tmp_path)
    real_put = rig.bucket.put_file
    rig.bucket.put_file = lambda key, path, sha, size: (real_put(key, path, sha, size),
                                                        rig.bucket.objects.__setitem__(key, (b"short", sha)))
    run(rig.apply(plan(change(Action.CREATE, video("a")))))
    assert rig.store.get("a").output_file is None and "does not hold" in rig.engine.errors["a"]
    assert (tmp_path / "state/uploads/a.mp4").is_file()


def test_a_replace_keeps_the_old_object_until_the_new_one_is_published_then_removes_it(tmp_path):
    rig = BucketRig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("a", text="one")))))
    old = rig.store.get("a")
    rig.engine = rig.new_engine()
    rig.bucket.down = True  # the new render's upload fails: the old output stays published
    run(rig.apply(plan(change(Action.REPLACE, video("a", text="two"), old))))
    mid = rig.store.get("a")
    assert mid.output_file == old.output_file and key_of(old.output_file) in rig.bucket.objects
    rig.bucket.down = False
    again(rig)
    new = rig.store.get("a")
    assert new.output_file != old.output_file and key_of(new.output_file) in rig.bucket.objects
    assert key_of(old.output_file) not in rig.bucket.objects
    assert manifest(rig)["a"]["file"] == new.output_file


def test_keep_deleted_outputs_keeps_replaced_and_deleted_objects(tmp_path):
    rig = BucketRig(tmp_path, extra_config="keep_deleted_outputs: true\n")
    run(rig.apply(plan(change(Action.CREATE, video("a", text="one")))))
    old = rig.store.get("a")
    rig.engine = rig.new_engine()
    run(rig.apply(plan(change(Action.REPLACE, video("a", text="two"), old))))
    new = rig.store.get("a")
    rig.engine = rig.new_engine()
    run(rig.apply(plan(change(Action.DELETE, recorded=new))))
    assert "a" not in manifest(rig)
    assert {key_of(old.output_file), key_of(new.output_file)} <= set(rig.bucket.objects)


def test_a_delete_removes_the_objects_of_its_address_only(tmp_path):
    rig = BucketRig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("a")), change(Action.CREATE, video("a/b")))))
    a = rig.store.get("a")
    rig.engine = rig.new_engine()
    run(rig.apply(plan(change(Action.DELETE, recorded=a))))
    assert "a" not in manifest(rig) and key_of(a.output_file) not in rig.bucket.objects
    assert key_of(rig.store.get("a/b").output_file) in rig.bucket.objects  # a nested address is another video
    assert any(k.startswith("launch/.cache/") for k in rig.bucket.objects)  # the cache stays


def test_a_delete_whose_object_removal_fails_is_said_not_fatal(tmp_path):
    rig = BucketRig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("a")))))
    a = rig.store.get("a")
    rig.engine = rig.new_engine()
    rig.bucket.down = True
    run(rig.apply(plan(change(Action.DELETE, recorded=a))))
    assert rig.store.get("a") is None and "a" not in manifest(rig)
    deleted = [e for e in rig.hooks.events if e.kind.value == "deleted"]
    assert deleted and "could not be deleted" in deleted[-1].detail


def test_refresh_heads_each_object_and_fetches_again_or_loses_by_vendor(tmp_path):
    rig = BucketRig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("x")), change(Action.CREATE, video("u", "unisound", "你好")))))
    x, u = rig.store.get("x"), rig.store.get("u")
    del rig.bucket.objects[key_of(x.output_file)], rig.bucket.objects[key_of(u.output_file)]
    rig.engine = rig.new_engine()
    downloads = len(rig.providers["xingyun"].kinds("download"))

    async def refresh():
        lost = await rig.engine.check_outputs()
        await rig.engine.close()
        return lost

    lost = run(refresh())
    assert lost == ["u"] and rig.store.get("u").output_lost
    assert rig.store.get("x").has_output and key_of(rig.store.get("x").output_file) in rig.bucket.objects
    assert len(rig.providers["xingyun"].kinds("download")) == downloads + 1  # fetched again, not rendered
    assert rig.bucket.count("head") >= 2 and len(rig.providers["xingyun"].kinds("submit")) == 1


def test_refresh_with_the_bucket_unreachable_loses_nothing(tmp_path):
    rig = BucketRig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("u", "unisound", "你好")))))
    rig.engine = rig.new_engine()
    rig.bucket.down = True

    async def refresh():
        lost = await rig.engine.check_outputs()
        await rig.engine.close()
        return lost

    assert run(refresh()) == []
    assert rig.store.get("u").has_output and not rig.store.get("u").output_lost
    assert "cannot be checked" in rig.engine.errors["u"] and "not counted as lost" in rig.engine.errors["u"]


def test_a_cache_hit_is_a_server_side_copy_with_no_render_and_no_transfer(tmp_path):
    rig = BucketRig(tmp_path)
    a = video("a", "unisound", text="same")
    run(rig.apply(plan(change(Action.CREATE, a))))
    b = video("b", "unisound", text="same")
    assert b.fingerprint == a.fingerprint
    rig.engine = rig.new_engine()
    puts = rig.bucket.count("put")
    served = change(Action.CREATE, b)
    served = dataclasses.replace(served, from_cache=True)
    run(rig.apply(plan(served)))
    r = rig.store.get("b")
    assert r.status is Status.FINISHED and r.output_file == f"s3://videos/launch/b/{r.output_sha256}.mp4"
    assert key_of(r.output_file) in rig.bucket.objects and rig.bucket.count("put") == puts  # copied, not uploaded
    assert len(rig.providers["unisound"].kinds("submit")) == 1 and len(rig.providers["unisound"].kinds("download")) == 1


def test_a_cache_hit_with_the_bucket_unreachable_renders_nothing(tmp_path):
    rig = BucketRig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("a", "unisound", text="same")))))
    rig.engine = rig.new_engine()
    rig.bucket.down = True
    served = change(Action.CREATE, video("b", "unisound", text="same"))
    served = dataclasses.replace(served, from_cache=True)
    run(rig.apply(plan(served)))
    assert rig.store.get("b") is None and len(rig.providers["unisound"].kinds("submit")) == 1
    assert "render cache" in rig.engine.errors["b"]


def test_the_manifest_carries_the_public_url_when_configured(tmp_path):
    rig = BucketRig(tmp_path, extra_config="outputs_public_url: https://cdn.example.com/videos/\n")
    run(rig.apply(plan(change(Action.CREATE, video("launch/intro")))))
    r = rig.store.get("launch/intro")
    assert manifest(rig)["launch/intro"]["url"] == f"https://cdn.example.com/videos/launch/intro/{r.output_sha256}.mp4"


def test_a_delete_with_keep_deleted_outputs_says_so_in_the_plan(tmp_path):
    from reconciler.model import PlanOptions
    from reconciler.planning import planner

    rig = BucketRig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("a")))))
    recorded = rig.store.recorded()
    kept = planner.make_plan({}, recorded, PlanOptions(keep_deleted_outputs=True, allow_mass_delete=True))
    removed = planner.make_plan({}, recorded, PlanOptions(allow_mass_delete=True))
    assert kept.changes[0].reason.endswith(f"its output {recorded['a'].output_file} is kept (keep_deleted_outputs)")
    assert removed.changes[0].reason.endswith("will be removed")


def test_an_upload_done_but_not_recorded_is_put_again_by_the_next_run_with_no_new_get(tmp_path):
    """What a kill -9 between the upload and its record leaves (``after_upload``): the object
    in the bucket, the staged file, the state not publishing it. The next run puts the same
    bytes under the same key again (harmless) and publishes; the one-shot link is not used again."""
    rig = BucketRig(tmp_path)
    rig.bucket.failures["head"] = [OutputsError("checking k in the bucket videos failed: no answer")]
    run(rig.apply(plan(change(Action.CREATE, video("faq/q1", "unisound", "你好")))))
    assert rig.store.get("faq/q1").output_file is None and len(rig.bucket.objects) == 1  # uploaded, unconfirmed
    again(rig)
    r = rig.store.get("faq/q1")
    assert r.has_output and rig.bucket.count("put") == 2 and len(rig.providers["unisound"].kinds("download")) == 1
    videos = {key_of(r.output_file), f"launch/.cache/{r.output_fingerprint}.mp4"}
    assert set(rig.bucket.objects) == videos | {k.removesuffix(".mp4") + ".jpg" for k in videos}  # and posters


def test_staged_downloads_no_render_needs_are_swept_and_a_pending_one_is_kept(tmp_path):
    """A kill between an output's record and the removal of its staged file leaves a file
    nobody needs: the next run's recovery removes it (and one of a deleted video), while
    a staged download still waiting for its upload stays for that upload."""
    rig = BucketRig(tmp_path)
    run(rig.apply(plan(change(Action.CREATE, video("done")))))
    rig.engine = rig.new_engine()
    rig.bucket.down = True
    run(rig.apply(plan(change(Action.CREATE, video("pending")))))
    uploads = tmp_path / "state/uploads"
    for name in ("done.mp4", "gone/x.mp4"):
        (uploads / name).parent.mkdir(parents=True, exist_ok=True)
        (uploads / name).write_bytes(b"left behind")
    rig.engine = rig.new_engine()
    rig.engine.recover()
    run(rig.engine.close())
    assert sorted(p.relative_to(uploads).as_posix() for p in uploads.rglob("*.mp4")) == ["pending.mp4"]
    assert not (uploads / "gone").exists()
