"""Loading specs: what a user writes becomes exactly the videos they meant.

Covers discovery, defaults merging, Jinja with vars and --var, YAML 1.2 scalars, TTS
tags, PPT rules, addresses, duplicate detection and the spec cache (hit, miss, corrupt,
stale, unwritable), all through ``load_specs`` on real files in a temp project.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.errors import SpecErrors
from reconciler.specs import loader, templating
from reconciler.specs.cache import CACHE_DIR
from reconciler.specs.loader import load_specs
from reconciler.util import yamlio
from tests.helpers import UNISOUND_HEADER, XINGYUN_HEADER, write

REPO = Path(__file__).resolve().parents[2]

XY, UNI = XINGYUN_HEADER, UNISOUND_HEADER


def load(root: Path, variables=None, use_cache=False):
    return load_specs(load_config(root), variables, use_cache=use_cache)


def messages(spec_load) -> list[str]:
    return [str(d) for d in spec_load.all_errors()]


# --- the example project ---------------------------------------------------------------

def test_the_repository_example_project_is_valid():
    desired = load(REPO).desired()
    assert len(desired) >= 8
    assert {v.provider for v in desired.values()} == {"xingyun", "unisound"}
    deck = [v for v in desired.values() if v.ppt_file]
    assert [v.ppt_file for v in deck] == ["decks/launch.pptx"]
    assert any(v.spec_file.endswith(".yaml.j2") for v in desired.values())
    assert any(v.labels for v in desired.values())


def test_validate_and_schema_commands_on_the_example(tmp_path):
    for name in ("specs", "decks"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copy(REPO / "vars.yaml", tmp_path / "vars.yaml")
    run = [sys.executable, "-m", "reconciler", "-C", str(tmp_path)]
    proc = subprocess.run(run + ["validate"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{len(load(REPO).desired())} videos OK"
    assert (tmp_path / "state" / CACHE_DIR / ".gitignore").read_text().endswith("*\n")
    proc = subprocess.run(run + ["schema"], capture_output=True, text=True)
    schema = json.loads(proc.stdout)
    assert set(schema["properties"]) == {"defaults", "videos"}
    assert schema["additionalProperties"] is False
    assert {"XingyunVideo", "UnisoundVideo"} <= set(schema["$defs"])


# --- loading and merging ---------------------------------------------------------------

def test_every_field_of_a_desired_video_is_filled(tmp_path):
    root = write(tmp_path, {"specs/sub/a.yaml": XY + """\
  launch/intro:           # line 7
    labels: {owner: me}
    prevent_destroy: true
    segment:
      - {text: 你好,, media_url: https://media.example.com/a.png}
      - {text: 再见}
""".replace(",,", ",")})
    video = load(root).desired()["launch/intro"]
    assert (video.address, video.provider, video.spec_file, video.line) == \
        ("launch/intro", "xingyun", "specs/sub/a.yaml", 7)
    assert (video.labels, video.prevent_destroy, video.ppt_file, video.ppt_sha256) == ({"owner": "me"}, True, None, None)
    assert video.tts_chars == len("你好") + len("再见")
    assert len(video.fingerprint) == 64


def test_defaults_merge_mappings_key_by_key_and_replace_lists(tmp_path):
    root = write(tmp_path, {"specs/a.yaml": """\
defaults:
  provider: unisound
  text: 默认文本
  speech_param: {vcn: xuanxuan-plus, speed: 55}
  video_param: {template: yadi_01, watermask: 0, background: 1}
  labels: {team: support, tier: gold}
videos:
  faq/q1: {}
  faq/q2:
    text: 请您再说一遍<mute>300</mute>或说取消。
    speech_param: {vcn: xiaofeng-plus, pitch: 40}
    labels: {tier: silver}
""", "specs/b.yaml": XY.replace("videos:", "  segment: [{text: 默认}, {text: 两段}]\nvideos:") + """\
  x/one: {}
  x/two:
    segment: [{text: 只有一段}]
"""})
    desired = load(root).desired()
    assert desired["faq/q1"].request["text"] == "默认文本"
    q2 = desired["faq/q2"]
    assert q2.request["speech_param"] == {"vcn": "xiaofeng-plus", "speed": 55, "volume": 50, "pitch": 40, "bright": 50}
    assert q2.request["video_param"] == {"template": "yadi_01", "watermask": 0, "background": 1}
    assert q2.labels == {"team": "support", "tier": "silver"}
    assert len(desired["x/one"].request["segment"]) == 2
    assert desired["x/two"].request["segment"] == [{"text": "只有一段"}]


def test_discovery_is_recursive_sorted_and_takes_only_spec_suffixes(tmp_path):
    one = XY + "  v/{n}:\n    segment: [{{text: 你好}}]\n"
    root = write(tmp_path, {
        "specs/b.yaml": one.format(n="b"), "specs/a/z.yml": one.format(n="z"),
        "specs/c.yaml.j2": one.format(n="c"), "specs/d.yml.j2": one.format(n="d"),
        "specs/notes.txt": "not a spec", "specs/.hidden.yaml": "broken: [", "specs/.git/x.yaml": "broken: [",
    })
    spec_load = load(root)
    assert [p.relative_to(root / "specs").as_posix() for p in spec_load.spec_files] == \
        ["a/z.yml", "b.yaml", "c.yaml.j2", "d.yml.j2"]
    assert all(p.is_absolute() for p in spec_load.spec_files)
    assert sorted(spec_load.desired()) == ["v/b", "v/c", "v/d", "v/z"]


def test_a_missing_specs_dir_or_empty_files_mean_zero_videos(tmp_path):
    assert load(write(tmp_path / "a", {})).desired() == {}
    root = write(tmp_path / "b", {"specs/empty.yaml": "", "specs/comment.yaml": "# nothing yet\n",
                                  "specs/none.yaml": "videos:\n"})
    assert load(root).desired() == {}


# --- YAML 1.2 scalars ------------------------------------------------------------------

@pytest.mark.parametrize("written, sent", [
    ("on", "on"), ("off", "off"), ('"on"', "on"), ("true", "on"), ("false", "off"), ("True", "on"), ("FALSE", "off"),
])
def test_sub_title_accepts_on_off_and_yaml_booleans(tmp_path, written, sent):
    root = write(tmp_path, {"specs/a.yaml": XY + f"  a/one:\n    sub_title: {written}\n    segment: [{{text: 你好}}]\n"})
    assert load(root).desired()["a/one"].request["sub_title"] == sent


def test_yaml_1_1_words_stay_strings(tmp_path):
    root = write(tmp_path, {"specs/a.yaml": XY + """\
  a/one:
    labels: {answer: yes, light: off, time: "12:30", plain_time: 12:30, date: 2024-01-01, n: no}
    segment: [{text: 你好}]
"""})
    assert load(root).desired()["a/one"].labels == {
        "answer": "yes", "light": "off", "time": "12:30", "plain_time": "12:30", "date": "2024-01-01", "n": "no"}


def test_yes_is_not_a_boolean(tmp_path):
    root = write(tmp_path, {"specs/a.yaml": XY + "  a/one:\n    if_aigc_mark: no\n    segment: [{text: 你好}]\n"})
    assert messages(load(root)) == ["specs/a.yaml:8: videos.a/one.if_aigc_mark: Input should be a valid boolean"]


def test_yamlio_numbers_follow_yaml_1_2():
    data, _ = yamlio.load("a: 012\nb: 0o17\nc: 0x1F\nd: 1_000\ne: 1.5e3\nf: -7\n")
    assert data == {"a": 12, "b": 15, "c": 31, "d": "1_000", "e": 1500.0, "f": -7}


# --- Jinja -----------------------------------------------------------------------------

TEMPLATE = XY + """\
{% for city in cities %}
  cities/{{ city }}:
    video_name: "{{ brand }} {{ city }}"
    segment: [{text: "{{ city }}的朋友们好"}]
{% endfor %}
"""


def test_templates_see_vars_files_and_var_overrides(tmp_path):
    root = write(tmp_path, {"specs/a.yaml.j2": TEMPLATE, "vars.yaml": "brand: 星云\ncities: [beijing, shanghai]\n"})
    desired = load(root, {"brand": "云知声"}).desired()
    assert sorted(desired) == ["cities/beijing", "cities/shanghai"]
    assert desired["cities/beijing"].request["video_name"] == "云知声 beijing"
    assert desired["cities/shanghai"].line == 10
    assert load(root).desired()["cities/beijing"].request["video_name"] == "星云 beijing"


def test_plain_templates_load_the_same_with_or_without_jinja(tmp_path, monkeypatch):
    """``{{ name }}`` templates skip Jinja (templating.substitute); the videos, lines and
    digest must be exactly those Jinja's rendering gives."""
    plain = XY + '  a/one:\n    look_name: "{{ look }}"\n    segment: [{text: "{{ brand }}你好 {{brand}}"}]\n'
    root = write(tmp_path, {"specs/a.yaml.j2": plain, "vars.yaml": "look: AM054\nbrand: 星云\n"})
    fast = load(root)
    monkeypatch.setattr(templating, "substitute", lambda source, variables: None)
    slow = load(root)
    assert fast.desired() == slow.desired() and fast.digest == slow.digest
    assert fast.desired()["a/one"].request["segment"] == [{"text": "星云你好 星云"}]


def test_later_vars_files_win(tmp_path):
    root = write(tmp_path, {"specs/a.yaml.j2": TEMPLATE, "reconciler.yaml": "vars: [base.yaml, local.yaml]\n",
                            "base.yaml": "brand: 星云\ncities: [beijing]\n", "local.yaml": "brand: 本地\n"})
    assert load(root).desired()["cities/beijing"].request["video_name"] == "本地 beijing"


def test_undefined_variable_names_the_template_line(tmp_path):
    root = write(tmp_path, {"specs/a.yaml.j2": TEMPLATE, "vars.yaml": "cities: [beijing]\n"})
    assert messages(load(root)) == ["specs/a.yaml.j2:9: undefined variable: 'brand' is undefined"]


def test_sandbox_refuses_python_internals(tmp_path):
    root = write(tmp_path, {"specs/a.yaml.j2": XY + "  a/{{ ''.__class__.__mro__[1].__subclasses__() }}: {}\n"})
    (error,) = load(root).all_errors()
    assert (error.path, error.line) == ("specs/a.yaml.j2", 7)
    assert "sandbox" in error.message


# --- TTS tags --------------------------------------------------------------------------

def test_every_documented_tts_tag_is_accepted_and_not_counted_as_speech(tmp_path):
    text = ('第<value>110</value>,<code>110</code>,<tel>110</tel>,<py>wei2</py>,<pname>单田芳</pname>,'
            '<word>乒乓</word><phrase>妈妈也亲了我</phrase><letter>WHO</letter><mute>300</mute>'
            '<sub alias="毫米汞柱">mmHg</sub><phrase><word>嵌套</word></phrase>')
    root = write(tmp_path, {"specs/a.yaml": UNI + f"  a/one:\n    text: '{text}'\n"})
    video = load(root).desired()["a/one"]
    assert video.request["text"] == text
    assert video.tts_chars == len(text) - sum(len(t) for t in __import__("re").findall(r"<[^>]*>", text))


@pytest.mark.parametrize("text, problem", [
    ("<value>1", "never closed"), ("1</value>", "unbalanced"), ("<word><value>1</word></value>", "unbalanced"),
    ("<value>1</valeu>", "never closed"), ("<mute time=1>1</mute>", "takes no attributes"),
    ("<sub>mmHg</sub>", 'alias="..."'), ("<value/>", "self-closing"), ("<mute/>", "self-closing"),
])
def test_bad_tts_tags_are_errors(tmp_path, text, problem):
    root = write(tmp_path, {"specs/a.yaml": UNI + f"  a/one:\n    text: '{text}'\n"})
    (error,) = load(root).all_errors()
    assert (error.line, error.where) == (7, "videos.a/one.text")
    assert problem in error.message


# --- PPT decks -------------------------------------------------------------------------

def ppt_project(tmp_path: Path, ppt_file: str, **files) -> Path:
    return write(tmp_path / "project", {"specs/a.yaml": XY + f"  a/deck:\n    ppt_file: {ppt_file}\n", **files})


def test_a_deck_inside_the_project_is_hashed(tmp_path):
    root = ppt_project(tmp_path, "../decks/launch.pptx", **{"decks/launch.pptx": b"deck bytes"})
    video = load(root).desired()["a/deck"]
    assert (video.ppt_file, video.ppt_sha256) == ("decks/launch.pptx", hashlib.sha256(b"deck bytes").hexdigest())
    assert video.tts_chars == 0
    assert root / "decks/launch.pptx" in load(root).watched_files


def test_a_symlink_inside_the_project_is_fine(tmp_path):
    root = ppt_project(tmp_path, "link.pptx", **{"decks/real.pptx": b"deck"})
    os.symlink("../decks/real.pptx", root / "specs/link.pptx")
    assert load(root).desired()["a/deck"].ppt_file == "decks/real.pptx"


@pytest.mark.parametrize("ppt_file, problem", [
    ("../../outside.pptx", "leads outside the project"),
    ("../decks/escape.pptx", "leads outside the project"),
    ("../decks/missing.pptx", "no such file"),
    ("../decks", "ppt_file must name a .pptx file"),
    ("../decks/dir.pptx", "no such file"),
    ("/tmp/deck.pptx", "relative to the spec file"),
])
def test_bad_deck_paths_are_errors(tmp_path, ppt_file, problem):
    (tmp_path / "outside.pptx").write_bytes(b"outside")
    root = ppt_project(tmp_path, ppt_file)
    (root / "decks/dir.pptx").mkdir(parents=True)
    os.symlink(tmp_path / "outside.pptx", root / "decks/escape.pptx")
    (error,) = load(root).all_errors()
    assert error.path == "specs/a.yaml" and error.line in (7, 8)
    assert problem in error.message


# --- addresses and duplicates ----------------------------------------------------------

@pytest.mark.parametrize("address, ok", [
    ("intro", True), ("launch/intro-2.v1_final", True), ("a/b/c/d", True), ("a" * 200, True), ("a.b/c.", True),
    ("/abs", False), ("a//b", False), ("a/./b", False), ("a/../b", False), ("..", False), ("a/", False),
    (".hidden", False), (".cache/0123", False), ("a/.b/c", False),  # outputs/.* are reconciler's own
    ("a" * 201, False), ("空格", False), ("a b", False), ("a:b", False), ("a\\\\b", False), ("''", False),
])
def test_address_rules(tmp_path, address, ok):
    root = write(tmp_path, {"specs/a.yaml": XY + f"  {address}:\n    segment: [{{text: 你好}}]\n"})
    errors = load(root).all_errors()
    assert (not errors) == ok, errors


def test_duplicate_addresses_across_files_name_both_files(tmp_path):
    root = write(tmp_path, {"specs/a.yaml": XY + "  same:\n    segment: [{text: 一}]\n",
                            "specs/b.yaml": UNI + "  other:\n    text: 二\n  same:\n    text: 三\n"})
    spec_load = load(root)
    assert [str(d) for d in spec_load.errors] == [
        "specs/a.yaml:7: videos.same: duplicate address: also defined at specs/b.yaml:8",
        "specs/b.yaml:8: videos.same: duplicate address: also defined at specs/a.yaml:7"]
    with pytest.raises(SpecErrors) as exc:
        spec_load.desired()
    assert len(exc.value.diagnostics) == 2


def test_a_broken_file_does_not_hide_the_clean_ones(tmp_path):
    root = write(tmp_path, {"specs/good.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\n",
                            "specs/bad.yaml": XY + "  a/two:\n    sub_title: sometimes\n    segment: [{text: 你好}]\n"})
    spec_load = load(root)
    assert list(spec_load.videos_by_file) == ["specs/good.yaml"]
    assert list(spec_load.errors_by_file) == ["specs/bad.yaml"]


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    root = write(tmp_path, {"specs/a.yaml": XY + """\
  a/one:
    sub_title: sometimes
    segment: [{text: 你好}]
  a/two:
    ppt_file: ../missing.pptx
  /bad: {}
  a/three:
    segment: [{text: 你好, extra: 1}]
"""})
    assert [(d.line, d.where) for d in load(root).all_errors()] == [
        (8, "videos.a/one.sub_title"), (11, "videos.a/two.ppt_file"), (12, "videos./bad"),
        (14, "videos.a/three.segment[0].extra")]


# --- the spec cache --------------------------------------------------------------------

CACHED = {"specs/a.yaml": XY + "  a/one:\n    segment: [{text: 你好}]\n",
          "specs/b.yaml.j2": XY + "  b/{{ 'one' }}:\n    segment: [{text: 再见}]\n",
          "specs/c.yaml": XY + "  c/deck:\n    ppt_file: ../decks/c.pptx\n",
          "decks/c.pptx": b"deck one"}


def forbid_parsing(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("parsed although the cache was warm")
    monkeypatch.setattr(yamlio, "load", boom)
    monkeypatch.setattr(templating, "render", boom)


def test_a_warm_cache_parses_nothing_and_gives_the_same_videos(tmp_path, monkeypatch):
    root = write(tmp_path, CACHED)
    cold = load(root, use_cache=True)
    forbid_parsing(monkeypatch)
    warm = load(root, use_cache=True)
    assert warm.desired() == cold.desired()
    assert warm.digest == cold.digest
    assert warm.watched_files == cold.watched_files


def test_a_warm_cache_gives_each_request_and_warning_as_a_cold_load(tmp_path, monkeypatch):
    """A cached video keeps its request encoded until it is read (``model._LazyRequest``),
    and the vendor-list warnings come from the cache without reading it."""
    from reconciler.specs import vendor_lists

    root = write(tmp_path, {**CACHED, "specs/u.yaml": UNI.replace("xuanxuan-plus", "xuanxuan-pluss")
                            + "  u/one:\n    text: 你好\n"})
    config = load_config(root)
    cold = load(root, use_cache=True)
    forbid_parsing(monkeypatch)
    warm = load(root, use_cache=True)
    monkeypatch.undo()  # the warning's line is looked up in the file
    assert vendor_lists.check(config, warm) == vendor_lists.check(config, cold)
    assert [str(w) for w in vendor_lists.check(config, warm)] == [
        "specs/u.yaml:3: videos.u/one.speech_param.vcn: 'xuanxuan-pluss' is not a voice of the Unisound "
        "document's list; check the spelling (a newer one your account has is fine)"]
    for address, video in warm.desired().items():
        assert video.request == cold.desired()[address].request
        assert video == cold.desired()[address]


def test_a_changed_file_is_parsed_again_and_only_that_one(tmp_path, monkeypatch):
    root = write(tmp_path, CACHED)
    load(root, use_cache=True)
    write(root, {"specs/a.yaml": CACHED["specs/a.yaml"].replace("你好", "您好")})
    parsed = []
    real = yamlio.load
    monkeypatch.setattr(yamlio, "load", lambda text: parsed.append(text) or real(text))
    desired = load(root, use_cache=True).desired()
    assert desired["a/one"].request["segment"] == [{"text": "您好"}]
    assert len(parsed) == 1


def test_a_changed_variable_re_renders_templates(tmp_path):
    root = write(tmp_path, {"specs/a.yaml.j2": TEMPLATE, "vars.yaml": "brand: 星云\ncities: [beijing]\n"})
    assert load(root, use_cache=True).desired()["cities/beijing"].request["video_name"] == "星云 beijing"
    assert load(root, {"brand": "新"}, use_cache=True).desired()["cities/beijing"].request["video_name"] == "新 beijing"
    write(root, {"vars.yaml": "brand: 改了\ncities: [beijing]\n"})
    assert load(root, use_cache=True).desired()["cities/beijing"].request["video_name"] == "改了 beijing"


def test_deck_changes_are_seen_through_a_warm_cache(tmp_path):
    root = write(tmp_path, CACHED)
    before = load(root, use_cache=True).desired()["c/deck"]
    write(root, {"decks/c.pptx": b"deck two"})
    after = load(root, use_cache=True).desired()["c/deck"]
    assert after.ppt_sha256 == hashlib.sha256(b"deck two").hexdigest() != before.ppt_sha256
    assert after.fingerprint != before.fingerprint
    (root / "decks/c.pptx").unlink()
    assert "no such file" in messages(load(root, use_cache=True))[0]


def cache_files(root: Path) -> list[Path]:
    return sorted((root / "state" / CACHE_DIR).glob("*.bin"))


@pytest.mark.parametrize("damage", [
    lambda b: b"", lambda b: b"garbage", lambda b: b[:-1], lambda b: b[:40] + b"\x00" + b[41:],
    lambda b: b"RSPC" + b"\x00" * 32 + b"\xff" * 10,
])
def test_a_corrupt_cache_entry_is_ignored(tmp_path, damage):
    root = write(tmp_path, CACHED)
    expected = load(root).desired()
    load(root, use_cache=True)
    for path in cache_files(root):
        path.write_bytes(damage(path.read_bytes()))
    assert load(root, use_cache=True).desired() == expected
    assert load(root, use_cache=True).desired() == expected  # and it was rewritten


def test_a_stale_cache_entry_is_ignored(tmp_path):
    root = write(tmp_path, CACHED)
    load(root, use_cache=True)
    old = {p: p.read_bytes() for p in cache_files(root)}
    write(root, {"specs/a.yaml": CACHED["specs/a.yaml"].replace("你好", "新的")})
    load(root, use_cache=True)
    for path, blob in old.items():  # put the entries for the old bytes back
        path.write_bytes(blob)
    assert load(root, use_cache=True).desired()["a/one"].request["segment"] == [{"text": "新的"}]


def test_loading_never_creates_or_touches_the_state_db(tmp_path):
    root = write(tmp_path, CACHED)
    load(root, use_cache=True)
    assert not (root / "state" / "reconciler.db").exists()
    assert cache_files(root)


def test_an_unwritable_state_dir_just_means_no_cache(tmp_path):
    root = write(tmp_path, {**CACHED, "reconciler.yaml": "state: blocked/reconciler.db\n", "blocked": "a file"})
    assert len(load(root, use_cache=True).desired()) == 3
    assert len(load(root, use_cache=True).desired()) == 3


def test_entries_of_removed_spec_files_are_pruned(tmp_path):
    root = write(tmp_path, CACHED)
    load(root, use_cache=True)
    assert len(cache_files(root)) == 3
    (root / "specs/a.yaml").unlink()
    load(root, use_cache=True)
    assert len(cache_files(root)) == 2


# --- digest and watched files ----------------------------------------------------------

def test_the_digest_changes_with_every_input(tmp_path):
    root = write(tmp_path, {**CACHED, "vars.yaml": "x: 1\n"})
    base = load(root).digest
    assert load(root).digest == base == load(root, use_cache=True).digest
    assert load(root, {"x": "2"}).digest != base
    for rel, content in [("vars.yaml", "x: 2\n"), ("decks/c.pptx", b"other deck"),
                         ("specs/a.yaml", CACHED["specs/a.yaml"] + "# a comment\n")]:
        write(root, {rel: content})
        assert load(root).digest != base, rel
        base = load(root).digest


def test_watched_files_cover_every_input(tmp_path):
    root = write(tmp_path, {**CACHED, "vars.yaml": "x: 1\n"})
    watched = load(root).watched_files
    assert {root / "specs/a.yaml", root / "specs/b.yaml.j2", root / "specs/c.yaml", root / "vars.yaml",
            root / "reconciler.yaml", (root / "decks/c.pptx").resolve()} <= watched


def test_specs_module_does_not_import_jinja_or_pydantic_models_on_a_warm_cache(tmp_path):
    root = write(tmp_path, CACHED)
    load(root, use_cache=True)
    code = ("import sys; from pathlib import Path; from reconciler.config import load_config; "
            "from reconciler.specs.loader import load_specs; "
            f"load_specs(load_config(Path({str(root)!r}))).desired(); "
            "print('jinja2' in sys.modules, 'reconciler.specs.schema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    assert loader.SPEC_SUFFIXES == (".yaml", ".yml", ".yaml.j2", ".yml.j2")


def test_validating_specs_loads_pydantic_core_but_never_pydantic(tmp_path):
    """A plan over a changed spec file validates it with pydantic-core alone: importing
    pydantic would cost it ~65 ms (bench/plan_scale.py). Both providers, a valid file and
    a file with errors (the one-by-one path and its messages), no spec cache."""
    root = write(tmp_path, {**CACHED, "specs/u.yaml": UNISOUND_HEADER + "  u/one:\n    text: 你好\n",
                            "specs/bad.yaml": XY + "  bad/one:\n    segment: [{text: 1}]\n"})
    code = ("import sys; from pathlib import Path; from reconciler.config import load_config; "
            "from reconciler.specs.loader import load_specs; "
            f"load = load_specs(load_config(Path({str(root)!r})), use_cache=False); "
            "print(len(load.videos_by_file), [e.message for e in load.all_errors()], "
            "'pydantic' in sys.modules, 'pydantic_core' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[0] == "4 ['Input should be a valid string'] False True"


def test_spec_cache_key_covers_the_rules_that_shape_a_load():
    """A changed validation rule must invalidate cached specs: the cache key hashes the
    modules that load and validate specs, wherever they live in the package."""
    from reconciler.specs import loader as loader_mod
    names = {p.relative_to(REPO / "reconciler").as_posix() for p in loader_mod._code_sources()}
    assert {"specs/schema.py", "specs/loader.py", "specs/templating.py", "specs/fingerprint.py",
            "specs/cache.py", "util/yamlio.py"} <= names
    assert all((REPO / "reconciler" / n).is_file() for n in names)
