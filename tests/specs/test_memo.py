"""The daemon's per-file memo (``specs.memo``): a spec file is read again only when its
stat changed or a file event named it, and the result is always what a fresh load gives."""

from __future__ import annotations

import hashlib

import pytest

from reconciler.config import load_config
from reconciler.specs import loader
from reconciler.specs.loader import load_specs
from reconciler.specs.memo import SpecMemo
from tests.helpers import XINGYUN_HEADER as XY
from tests.helpers import write

FILES = {"specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\n",
         "specs/b.yaml.j2": XY + "  b/one:\n    segment: [{text: \"{{ greeting }}\"}]\n",
         "specs/c.yaml": XY + "  c/deck:\n    ppt_file: ../decks/c.pptx\n",
         "decks/c.pptx": b"deck one", "vars.yaml": "greeting: 早上好\n"}


@pytest.fixture
def reads(monkeypatch):
    """The spec files actually read (not answered from the memo), by project path."""
    seen: list[str] = []
    real = loader._Loader._read_file

    def counting(self, path, rel):
        seen.append(rel)
        return real(self, path, rel)

    monkeypatch.setattr(loader._Loader, "_read_file", counting)
    return seen


def memo_load(root, memo, variables=None):
    return load_specs(load_config(root), variables, memo=memo)


def test_unchanged_files_are_not_read_again_and_give_the_same_videos(tmp_path, reads):
    root = write(tmp_path, FILES)
    memo = SpecMemo()
    first = memo_load(root, memo)
    assert sorted(reads) == ["specs/a.yaml", "specs/b.yaml.j2", "specs/c.yaml"]
    reads.clear()
    second = memo_load(root, memo)
    assert reads == ["specs/c.yaml"]  # a file with a deck is checked on every load
    assert second.desired() == first.desired() == load_specs(load_config(root)).desired()
    assert second.digest == first.digest


def test_a_saved_file_is_read_again(tmp_path, reads):
    root = write(tmp_path, FILES)
    memo = SpecMemo()
    memo_load(root, memo)
    write(root, {"specs/a.yaml": FILES["specs/a.yaml"].replace("你好", "您好")})
    reads.clear()
    desired = memo_load(root, memo).desired()
    assert "specs/a.yaml" in reads and "specs/b.yaml.j2" not in reads
    assert desired["a/one"].request["segment"] == [{"text": "您好"}]


def test_a_file_named_by_an_event_is_read_again_even_if_its_stat_looks_unchanged(tmp_path, reads):
    root = write(tmp_path, FILES)
    memo = SpecMemo()
    memo_load(root, memo)
    memo.changed([str(root / "specs" / "a.yaml")])
    reads.clear()
    memo_load(root, memo)
    assert "specs/a.yaml" in reads and "specs/b.yaml.j2" not in reads
    reads.clear()
    memo_load(root, memo)  # the mark is used up
    assert "specs/a.yaml" not in reads


def test_forget_reads_everything_again(tmp_path, reads):
    root = write(tmp_path, FILES)
    memo = SpecMemo()
    memo_load(root, memo)
    memo.forget()
    reads.clear()
    memo_load(root, memo)
    assert sorted(reads) == ["specs/a.yaml", "specs/b.yaml.j2", "specs/c.yaml"]


def test_changed_variables_re_render_templates_through_the_memo(tmp_path, reads):
    root = write(tmp_path, FILES)
    memo = SpecMemo()
    memo_load(root, memo)
    assert memo_load(root, memo, {"greeting": "晚上好"}).desired()["b/one"].request["segment"] == [{"text": "晚上好"}]
    write(root, {"vars.yaml": "greeting: 你们好\n"})
    assert memo_load(root, memo).desired()["b/one"].request["segment"] == [{"text": "你们好"}]


def test_a_changed_deck_is_seen_through_the_memo(tmp_path):
    root = write(tmp_path, FILES)
    memo = SpecMemo()
    before = memo_load(root, memo).desired()["c/deck"]
    write(root, {"decks/c.pptx": b"deck two"})
    after = memo_load(root, memo).desired()["c/deck"]
    assert after.ppt_sha256 == hashlib.sha256(b"deck two").hexdigest() != before.ppt_sha256


def test_a_removed_file_takes_its_videos_with_it_and_a_broken_one_is_reported(tmp_path):
    root = write(tmp_path, FILES)
    memo = SpecMemo()
    memo_load(root, memo)
    (root / "specs" / "a.yaml").unlink()
    assert "a/one" not in memo_load(root, memo).desired()
    write(root, {"specs/b.yaml.j2": FILES["specs/b.yaml.j2"] + "  broken: [\n"})
    load = memo_load(root, memo)
    assert "specs/b.yaml.j2" in load.errors_by_file
    assert "specs/b.yaml.j2" in memo_load(root, memo).errors_by_file  # read again, not remembered


def test_forget_during_a_load_is_not_undone_when_the_load_finishes(tmp_path, reads, monkeypatch):
    """A watcher restart mid-load (events may have been lost) must make the next load
    read everything, even though the load under way remembered what it read."""
    root = write(tmp_path, FILES)
    memo = SpecMemo()
    memo_load(root, memo)
    real = loader._Loader._read_file

    def forgetting(self, path, rel):  # the daemon's loop thread, while the worker loads
        memo.forget()
        return real(self, path, rel)

    memo.changed([str(root / "specs" / "a.yaml")])
    monkeypatch.setattr(loader._Loader, "_read_file", forgetting)
    memo_load(root, memo)
    monkeypatch.setattr(loader._Loader, "_read_file", real)
    seen = []
    monkeypatch.setattr(loader._Loader, "_read_file", lambda self, p, r: seen.append(r) or real(self, p, r))
    memo_load(root, memo)
    assert sorted(seen) == ["specs/a.yaml", "specs/b.yaml.j2", "specs/c.yaml"]
