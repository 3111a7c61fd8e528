"""The render cache's files (issue 19 §1, docs/cache.md clarifications): an entry is a
copy of its own, never a hard link of a published output; a hit is verified on the copy
before it replaces anything; a plan's cheap look names the entries it cannot serve."""

from __future__ import annotations

import hashlib

import pytest

from reconciler.config import load_config
from reconciler.outputs import render_cache
from reconciler.outputs.base import CacheDamaged
from reconciler.outputs.local import LocalOutputs
from reconciler.sim import media

VIDEO = media.base_clip()


@pytest.fixture
def config(tmp_path):
    (tmp_path / "reconciler.yaml").write_text("parallelism: 1\n")
    return load_config(tmp_path)


def kept(config, address: str = "a") -> dict:
    published = config.outputs_dir / f"{address}.mp4"
    published.parent.mkdir(parents=True, exist_ok=True)
    published.write_bytes(VIDEO)
    render_cache.keep(config, "fp", published)
    return {"fingerprint": "fp", "sha256": hashlib.sha256(VIDEO).hexdigest(), "bytes": len(VIDEO),
            "location": render_cache.place(config)}


def test_kept_and_published_files_share_no_inode(config):
    entry = kept(config)
    published, cached = config.outputs_dir / "a.mp4", render_cache.entry_path(config, "fp")
    LocalOutputs(config).cache_publish("fp", "b", entry)
    served = config.outputs_dir / "b.mp4"
    assert len({published.stat().st_ino, cached.stat().st_ino, served.stat().st_ino}) == 3
    with open(published, "r+b") as f:  # overwritten in place
        f.write(b"\0" * 64)
    assert cached.read_bytes() == VIDEO and served.read_bytes() == VIDEO
    assert render_cache.problem(config, entry) is None


def test_a_hit_whose_bytes_changed_is_not_published(config):
    entry = kept(config)
    dest = config.outputs_dir / "b.mp4"
    dest.write_bytes(b"the old output")
    with open(render_cache.entry_path(config, "fp"), "r+b") as f:  # damaged after it was checked
        f.seek(100)
        f.write(b"\xff" * 8)
    with pytest.raises(CacheDamaged, match="sha256"):
        render_cache.publish(config, entry, dest)
    assert dest.read_bytes() == b"the old output"  # left as it was, no temporary file behind
    assert sorted(p.name for p in config.outputs_dir.iterdir()) == [".cache", "a.mp4", "b.mp4"]


def test_a_missing_entry_is_damaged_not_a_local_failure(config):
    entry = kept(config)
    render_cache.entry_path(config, "fp").unlink()
    with pytest.raises(CacheDamaged, match="missing"):
        render_cache.publish(config, entry, config.outputs_dir / "b.mp4")


def test_the_plans_look_names_entries_gone_resized_or_kept_elsewhere(config):
    entry = kept(config)
    assert render_cache.unservable(config, [entry]) == {}
    assert render_cache.unservable(config, [dict(entry, location=None)]) == {}  # recorded before locations
    elsewhere = render_cache.unservable(config, [dict(entry, location="host-b:/srv/outputs")])
    assert "host-b:/srv/outputs" in elsewhere["fp"]
    assert "bytes" in render_cache.unservable(config, [dict(entry, bytes=1)])["fp"]
    render_cache.entry_path(config, "fp").unlink()
    assert render_cache.unservable(config, [entry]) == {"fp": "cached file is missing"}


def test_an_entry_an_older_version_hard_linked_gets_a_copy_of_its_own_at_the_next_run(config):
    import os

    entry = kept(config)
    published, cached = config.outputs_dir / "a.mp4", render_cache.entry_path(config, "fp")
    cached.unlink()
    os.link(published, cached)  # what link_or_copy left behind
    LocalOutputs(config).sweep()  # Engine.recover, before any change
    assert cached.stat().st_nlink == published.stat().st_nlink == 1
    with open(published, "r+b") as f:
        f.write(b"\0" * 64)
    assert render_cache.problem(config, entry) is None


def test_in_a_bucket_an_entry_recorded_in_another_outputs_location_is_not_servable(tmp_path):
    from reconciler.outputs.bucket import BucketOutputs
    from tests.fakes import FakeBucket

    (tmp_path / "reconciler.yaml").write_text("outputs: s3://videos/launch\n")
    store = BucketOutputs(load_config(tmp_path), bucket=FakeBucket())
    assert store.cache_location() == "s3://videos/launch"
    entries = [{"fingerprint": "here", "location": "s3://videos/launch"}, {"fingerprint": "old", "location": None},
               {"fingerprint": "folder", "location": "host-a:/p/outputs"}]
    assert list(store.cache_unservable(entries)) == ["folder"]  # no network: the HEAD is apply's
