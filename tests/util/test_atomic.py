"""The one atomic write: whole files and streamed ones (downloads) replace their target
only when complete, and a failure leaves the target and no temporary file behind."""

import os

import pytest

from reconciler.util import atomic


def test_a_streamed_replacement_is_invisible_until_committed(tmp_path):
    target = tmp_path / "out" / "v.mp4"
    target.parent.mkdir()
    target.write_bytes(b"old")
    with atomic.Replacement(target, mode=0o644, suffix=".part") as out:
        out.file.write(b"new ")
        assert target.read_bytes() == b"old"
        out.file.write(b"bytes")
    assert target.read_bytes() == b"new bytes"
    assert os.stat(target).st_mode & 0o777 == 0o644
    assert os.listdir(target.parent) == ["v.mp4"]


def test_a_failed_replacement_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "v.mp4"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic.Replacement(target) as out:
            out.file.write(b"half")
            raise RuntimeError("connection dropped")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["v.mp4"]


def test_whole_file_writes_keep_the_permissions_they_replace(tmp_path):
    target = tmp_path / "manifest.json"
    atomic.atomic_write_text(target, "{}")
    os.chmod(target, 0o600)
    atomic.atomic_write_bytes(target, b"[]", durable=False)
    assert target.read_bytes() == b"[]" and os.stat(target).st_mode & 0o777 == 0o600
