"""`reconciler gallery` through the console script, on a state written by the store
(no simulator): what the page holds, its order, posters, and bad input."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

from reconciler.config import load_config
from reconciler.gallery import cards
from reconciler.model import Status
from reconciler.state import store as state_store
from tests.gallery.support import StateBuilder, desired, run


def make_project(root: Path) -> None:
    root.mkdir()
    (root / "reconciler.yaml").write_text("parallelism: 2\n")
    state = StateBuilder(root)
    state.finished(desired("a/ok", "第<value>110</value>号", labels={"owner": "support"}))
    state.finished(desired("b/gone", "删掉了"))
    state.failed(desired("c/bad", "坏了"), "vendor said no.")
    state.unknown(desired("d/maybe", "<script>alert(1)</script>", provider="xingyun"))
    first = desired("e/edited", "第一版")
    state.finished(first)
    state.submitted(desired("e/edited", "第二版"))  # a replace still rendering: the old output stays
    state.close()
    (root / "outputs/b/gone.mp4").unlink()


def test_page_lists_every_video_needing_a_look_first_with_posters(tmp_path):
    root = tmp_path / "proj"
    make_project(root)
    before = (root / "state/reconciler.db").read_bytes()
    result = run(root, "gallery")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == ("Wrote site/index.html: 5 videos, 3 need a look "
                                             "(1 failed, 1 unknown, 1 lost); 2 posters.")
    assert result.stdout.splitlines()[1] == f"Open {(root / 'site/index.html').resolve().as_uri()}"
    assert (root / "state/reconciler.db").read_bytes() == before
    html = (root / "site/index.html").read_text()
    order = re.findall(r'<article class="card[^"]*" id="v-([^"]+)" data-status="(\w+)"', html)
    assert order == [("c/bad", "failed"), ("d/maybe", "unknown"), ("b/gone", "lost"),
                     ("e/edited", "rendering"), ("a/ok", "finished")]
    assert 'src="../outputs/a/ok.mp4"' in html and 'src="../outputs/e/edited.mp4"' in html
    assert "The player shows the previous render." in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    posters = sorted(p.name for p in (root / "site/posters").iterdir())
    assert len(posters) == 1  # both outputs are the same bytes: one poster
    assert html.count(f'poster="posters/{posters[0]}"') == 2
    assert (root / "site/posters" / posters[0]).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert not re.search(r'<(link|script)[^>]+(src|href)="https?://', html)  # no CDN asset


def test_a_poster_published_beside_the_output_is_the_one_shown(tmp_path):
    root = tmp_path / "proj"
    make_project(root)
    from reconciler.media import poster

    poster.write_poster(root / "outputs/a/ok.mp4", root / "outputs/a/ok.jpg")  # as apply publishes it
    result = run(root, "gallery", "--out", "review")
    assert result.returncode == 0, result.stderr
    html = (root / "review/index.html").read_text()
    assert 'poster="../outputs/a/ok.jpg"' in html  # the published one, not a copy
    cut = sorted(p.name for p in (root / "review/posters").iterdir())
    assert len(cut) == 1 and html.count(f'poster="posters/{cut[0]}"') == 1  # e/edited's older output: cut here


def test_out_that_is_a_file_is_an_error_and_an_empty_state_an_empty_page(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "site").write_text("mine")
    result = run(root, "gallery")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "Error: site: is a file, not a folder; choose another --out"
    assert (root / "site").read_text() == "mine"
    result = run(root, "gallery", "--out", "empty")
    assert result.returncode == 0, result.stderr
    assert "No videos in the manifest yet" in (root / "empty/index.html").read_text()
    assert not (root / "state").exists()  # a reader creates no state


def test_stalled_renders_and_why_each_render_was_paid(tmp_path):
    root = tmp_path / "proj"
    make_project(root)
    config = load_config(root)
    store = state_store.open_store(config, readonly=True)
    recorded, attempts = store.recorded(), store.attempts()
    store.close()
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    made = {c.address: c for c in cards.build_cards(config, recorded, attempts, root / "site", later)}
    assert made["e/edited"].status == "stalled" and made["e/edited"].attention
    assert [(a.why, a.paid) for a in made["e/edited"].history] == [("first render", "paid"), ("the spec changed", "paid")]
    assert [(a.why, a.paid) for a in made["d/maybe"].history] == [("first render", "maybe paid")]
    assert [(a.why, a.paid) for a in made["c/bad"].history] == [("first render", "not paid")]


def test_the_history_says_which_render_a_person_imported_and_which_came_after_a_forget(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "reconciler.yaml").write_text("parallelism: 2\n")
    state = StateBuilder(root)
    settled, again = desired("f/settled", "答复丢了"), desired("g/again", "再来一次")
    state.unknown(settled)
    state.store.import_task(settled, "777", Status.RENDERING, holder="state import (pid 9)")
    state.finished(again)
    state.store.forget([again.address])
    state.finished(again)
    state.close()
    config = load_config(root)
    store = state_store.open_store(config, readonly=True)
    recorded, attempts = store.recorded(), store.attempts()
    store.close()
    made = {c.address: c for c in cards.build_cards(config, recorded, attempts, root / "site",
                                                    dt.datetime.now(dt.timezone.utc))}
    assert [(a.why, a.paid) for a in made["f/settled"].history] == [
        ("first render", "maybe paid"), ("imported by a person (`state import`): a task found at the vendor", "paid")]
    assert [a.why for a in made["g/again"].history] == ["first render", "added again after `state forget`"]


def test_the_cli_does_not_import_the_gallery():
    code = "import sys, reconciler.cli; print(any(m.startswith('reconciler.gallery') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
