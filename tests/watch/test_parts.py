"""The daemon's parts on their own: last-good desired state, what the daemon holds back
from a plan, which file events count, the event log, the recorded-state cache."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import watchfiles

from reconciler.apply.engine import Engine
from reconciler.apply.events import Event, Kind
from reconciler.config import load_config
from reconciler.errors import Diagnostic, TransientError
from reconciler.model import Action, Change, DesiredVideo, Plan, RecordedVideo, Status
from reconciler.planning.request import Request
from reconciler.specs.fingerprint import fingerprint
from reconciler.specs.loader import SpecLoad
from reconciler.state.sqlite import StateStore
from reconciler.watch.daemon import Daemon
from reconciler.watch.desired import LastGood
from reconciler.watch.eventlog import EventLog, LogHooks
from reconciler.watch.files import Targets
from reconciler.watch.policy import Backoff, Policy, Settle
from reconciler.watch.recorded import RecordedCache
from tests.fakes import FAST, FakeProvider


def dv(address: str, text: str = "hi", spec_file: str = "specs/a.yaml") -> DesiredVideo:
    request = {"text": text}
    return DesiredVideo(address, "unisound", request, fingerprint("unisound", request, None), spec_file)


def rv(d: DesiredVideo, status: Status = Status.FINISHED, **kw) -> RecordedVideo:
    return RecordedVideo(d.address, d.provider, d.fingerprint, status, d.spec_file, d.request, task_id="1", **kw)


def load(videos: dict[str, list[DesiredVideo]], errors: dict[str, list[Diagnostic]] | None = None,
         general: list[Diagnostic] | None = None) -> SpecLoad:
    return SpecLoad(videos_by_file=videos, errors_by_file=errors or {}, errors=general or [])


def broken(path: str) -> dict[str, list[Diagnostic]]:
    return {path: [Diagnostic(path, 3, "", "invalid YAML")]}


# -- last good desired state -----------------------------------------------------------


def test_broken_file_keeps_its_last_good_videos():
    lg = LastGood()
    a1, a2, b1 = dv("a/1"), dv("a/2"), dv("b/1", spec_file="specs/b.yaml")
    first = lg.resolve(load({"specs/a.yaml": [a1, a2], "specs/b.yaml": [b1]}), {})
    assert set(first.videos) == {"a/1", "a/2", "b/1"} and not first.broken
    b1_new = dv("b/1", "changed", spec_file="specs/b.yaml")
    second = lg.resolve(load({"specs/b.yaml": [b1_new]}, broken("specs/a.yaml")), {})
    assert second.videos == {"a/1": a1, "a/2": a2, "b/1": b1_new}  # a kept, b carries on
    assert second.stale == {"specs/a.yaml"} and not second.held
    assert "specs/a.yaml" in second.broken
    # still broken a while later: still the same last good list
    assert lg.resolve(load({"specs/b.yaml": [b1_new]}, broken("specs/a.yaml")), {}).videos["a/2"] is a2


def test_file_broken_from_the_start_holds_what_state_records():
    lg = LastGood()
    a1, b1 = dv("a/1"), dv("b/1", spec_file="specs/b.yaml")
    recorded = {"a/1": rv(a1), "b/1": rv(b1), "gone/1": rv(dv("gone/1", spec_file="specs/gone.yaml"))}
    res = lg.resolve(load({"specs/b.yaml": [b1]}, broken("specs/a.yaml")), recorded)
    assert res.held == {"a/1"}
    assert res.videos["a/1"].fingerprint == a1.fingerprint and res.videos["a/1"].request == a1.request
    assert "gone/1" not in res.videos  # its file is gone, not broken: really deleted


def test_deleted_file_is_forgotten_and_clean_definition_wins():
    lg = LastGood()
    moved_old, moved_new = dv("m/1"), dv("m/1", "new", spec_file="specs/b.yaml")
    lg.resolve(load({"specs/a.yaml": [moved_old, dv("a/2")]}), {})
    # a breaks in the same save that moved m/1 to b: b's definition wins
    res = lg.resolve(load({"specs/b.yaml": [moved_new]}, broken("specs/a.yaml")), {})
    assert res.videos["m/1"] is moved_new and "a/2" in res.videos
    # a deleted: its videos go
    res = lg.resolve(load({"specs/b.yaml": [moved_new]}), {})
    assert set(res.videos) == {"m/1"} and lg.files.keys() == {"specs/b.yaml"}


def test_cross_file_duplicate_breaks_the_file_it_names():
    lg = LastGood()
    a1, b1 = dv("x"), dv("b/1", spec_file="specs/b.yaml")
    lg.resolve(load({"specs/a.yaml": [a1], "specs/b.yaml": [b1]}), {})
    dup = dv("x", "other", spec_file="specs/b.yaml")
    diag = Diagnostic("specs/b.yaml", 4, "videos.x", "duplicate address")
    res = lg.resolve(load({"specs/a.yaml": [a1], "specs/b.yaml": [b1, dup]}, general=[diag]), {})
    assert res.videos == {"x": a1, "b/1": b1} and res.stale == {"specs/b.yaml"}


def test_vars_error_breaks_templates_only():
    lg = LastGood()
    t1, p1 = dv("t/1", spec_file="specs/t.yaml.j2"), dv("p/1", spec_file="specs/p.yaml")
    lg.resolve(load({"specs/t.yaml.j2": [t1], "specs/p.yaml": [p1]}), {})
    p1_new = dv("p/1", "new", spec_file="specs/p.yaml")
    t1_new = dv("t/1", "rendered with broken vars", spec_file="specs/t.yaml.j2")
    res = lg.resolve(load({"specs/t.yaml.j2": [t1_new], "specs/p.yaml": [p1_new]},
                          general=[Diagnostic("vars.yaml", 2, "", "invalid YAML")]), {})
    assert res.videos == {"t/1": t1, "p/1": p1_new} and res.general and "specs/t.yaml.j2" in res.broken


# -- what the daemon holds back ---------------------------------------------------------


def change(action: Action, d: DesiredVideo | None, r: RecordedVideo | None) -> Change:
    return Change((d or r).address, action, (d or r).provider, "why", "specs/a.yaml", d, r)


def test_failed_render_is_not_retried_until_its_fingerprint_changes():
    d = dv("a")
    failed = rv(d, Status.FAILED, error="bad")
    plan = Plan((change(Action.REPLACE, d, failed),))
    out, skips = Policy(Backoff(), Settle()).restrain(plan, frozenset(), 0.0)
    assert out.changes[0].action is Action.NOOP and len(skips) == 1 and not skips[0].quiet
    assert "reconciler apply" in skips[0].why
    for status in (Status.UNKNOWN, Status.CANCELLED):
        out, _ = Policy().restrain(Plan((change(Action.REPLACE, d, rv(d, status)),)), frozenset(), 0)
        assert out.changes[0].action is Action.NOOP
    edited = dv("a", "edited")
    out, skips = Policy().restrain(Plan((change(Action.REPLACE, edited, failed),)), frozenset(), 0.0)
    assert out.changes[0].action is Action.REPLACE and not skips


def test_lost_output_is_rendered_again_once():
    d = dv("a")
    lost = rv(d, output_file="outputs/a.mp4", output_lost=True, error="one-shot URL already used")
    plan = Plan((change(Action.REPLACE, d, lost),))
    policy = Policy()
    out, skips = policy.restrain(plan, frozenset(), 0.0)
    assert out.changes[0].action is Action.REPLACE and not skips
    out, skips = policy.restrain(plan, frozenset(), 1.0)  # lost again: a person decides
    assert out.changes[0].action is Action.NOOP and "lost again" in skips[0].why


def test_transient_failures_back_off_then_retry():
    d = dv("a")
    backoff = Backoff(base=10, rand=lambda: 0.5)
    due = backoff.failed("a", d.fingerprint, 100.0)
    assert due == 110.0 and backoff.next_due(100.0) == 110.0 and backoff.next_due(111.0) is None
    plan = Plan((change(Action.CREATE, d, None),))
    out, skips = Policy(backoff, Settle()).restrain(plan, frozenset(), 105.0)
    assert out.changes[0].action is Action.NOOP and skips[0].quiet
    out, _ = Policy(backoff, Settle()).restrain(plan, frozenset(), 110.0)
    assert out.changes[0].action is Action.CREATE
    assert backoff.failed("a", d.fingerprint, 110.0) == 130.0  # doubled
    backoff.clear("a")
    assert backoff.entry("a", d.fingerprint) is None


def test_held_videos_and_unsettled_deletes_wait():
    d = dv("a")
    plan = Plan((change(Action.REPLACE, d, rv(d, Status.FAILED)), change(Action.DELETE, None, rv(dv("z")))))
    settle = Settle(delay=1.0)
    out, _ = Policy(Backoff(), settle).restrain(plan, frozenset({"a"}), 10.0)
    assert [c.action for c in out.changes] == [Action.NOOP, Action.NOOP]
    assert settle.next_due(10.0) == 11.0
    out, _ = Policy(Backoff(), settle).restrain(plan, frozenset({"a"}), 11.0)
    assert [c.action for c in out.changes] == [Action.NOOP, Action.DELETE]
    # it came back: the clock starts again next time it goes
    Policy(Backoff(), settle).restrain(Plan(()), frozenset(), 12.0)
    assert settle.since == {}


# -- which file events count -------------------------------------------------------------


def test_targets_filter_events(tmp_path):
    root = tmp_path
    (root / "specs" / "sub").mkdir(parents=True)
    (root / "decks").mkdir()
    (root / "specs" / "notes.txt").write_text("x")
    deck = root / "decks" / "d.pptx"
    t = Targets(root / "specs", {root / "reconciler.yaml", root / "vars.yaml", deck})
    assert t.recursive == (str(root / "specs"),)
    assert t.flat == (str(root), str(root / "decks"))
    ok = watchfiles.Change.modified
    yes = [root / "specs/a.yaml", root / "specs/new/deep/b.yml.j2", root / "specs/gone_dir", root / "vars.yaml",
           root / "reconciler.yaml", deck, root / "specs"]
    no = [root / "specs/.a.yaml.swp", root / "specs/a.yaml~", root / "specs/.git/index.lock",
          root / "specs/.hidden/b.yaml", root / "specs/notes.txt", root / "state/reconciler.db",
          root / "outputs/a.mp4", root / "decks/other.pptx", root / "README.md"]
    assert [p for p in yes if not t.relevant(ok, str(p))] == []
    assert [p for p in no if t.relevant(ok, str(p))] == []


def test_targets_watch_the_parent_while_specs_folder_is_missing(tmp_path):
    t = Targets(tmp_path / "specs", {tmp_path / "reconciler.yaml"})
    assert t.recursive == () and t.flat == (str(tmp_path),)
    assert t.relevant(watchfiles.Change.added, str(tmp_path / "specs"))


# -- the event log ---------------------------------------------------------------------------


def test_json_lines_carry_the_fields():
    out = io.StringIO()
    log = EventLog(out, "json", clock=lambda: "T")
    log.error("spec_error", "specs/a.yaml:3: invalid YAML", file="specs/a.yaml", line=3)
    log.info("submitted", "two\nlines", address="a/b", task_id="7")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first == {"ts": "T", "level": "error", "event": "spec_error", "address": None,
                     "message": "specs/a.yaml:3: invalid YAML", "file": "specs/a.yaml", "line": 3}
    assert second["address"] == "a/b" and second["task_id"] == "7" and second["message"] == "two\nlines"


def test_text_lines_and_once():
    out = io.StringIO()
    log = EventLog(out, "text", clock=lambda: "T")
    assert log.once(("k",), "skip", "first", level="warning", address="a")
    assert not log.once(("k",), "skip", "again", level="warning", address="a")
    log.forget(("k",))
    log.emit("plan_refused", "line one\n  line two", level="error")
    lines = out.getvalue().splitlines()
    assert lines == ["T WARNING skip        a: first", "T ERROR   plan_refused line one | line two"]


def test_engine_events_become_lines_and_repeats_are_dropped():
    out = io.StringIO()
    seen = []
    hooks = LogHooks(EventLog(out, "json", clock=lambda: "T"), listener=seen.append)
    for _ in range(3):
        hooks.event(Event(Kind.POLL_ERROR, "a", "xingyun", "9", "503 (will poll again)"))
    hooks.event(Event(Kind.STATE, "a", "xingyun", "9", "processing"))
    hooks.event(Event(Kind.POLL_ERROR, "a", "xingyun", "9", "503 (will poll again)"))
    hooks.event(Event(Kind.SKIPPED, "b", "xingyun"))
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["event"], r["level"]) for r in records] == [("poll_error", "warning"), ("state", "info"),
                                                           ("poll_error", "warning")]
    assert len(seen) == 6 and hooks.skipped == 1


# -- recorded-state cache ------------------------------------------------------------------


def test_recorded_cache_rereads_only_touched_rows(tmp_path: Path):
    store = StateStore(tmp_path / "state.db")
    a, b = dv("a"), dv("b")
    for d in (a, b):
        store.attempt_submitted(d.address, store.begin_attempt(d, "test"), "t-" + d.address)
    cache = RecordedCache(store)
    assert set(cache.snapshot()) == {"a", "b"}
    store.record_task("a", "t-a", Status.FAILED, error="boom")
    store.remove("b")
    assert cache.snapshot()["a"].status is Status.RENDERING  # not told yet
    cache.touch("a")
    cache.touch("b")
    snap = cache.snapshot()
    assert snap["a"].status is Status.FAILED and "b" not in snap
    store.close()


def test_targets_ignore_the_daemons_own_writes(tmp_path):
    t = Targets(tmp_path, {tmp_path / "reconciler.yaml"}, ignore=(tmp_path / "state", tmp_path / "outputs", tmp_path))
    assert t.recursive == (str(tmp_path),)
    assert not t.relevant(watchfiles.Change.deleted, str(tmp_path / "state" / "gone"))
    assert not t.relevant(watchfiles.Change.deleted, str(tmp_path / "outputs" / "a" / "b"))
    assert t.relevant(watchfiles.Change.added, str(tmp_path / "a.yaml"))  # root itself is never ignored


# -- one daemon cycle at a time, with fake vendors -------------------------------------------

SPEC_HEAD = ("defaults:\n  provider: unisound\n  speech_param: {vcn: xuanxuan-plus}\n"
             "  video_param: {template: yadi_01, background: 1}\nvideos:\n")


class DaemonRig:
    def __init__(self, root: Path):
        (root / "specs").mkdir()
        self.root = root
        self.config = load_config(root)
        self.store = StateStore(self.config.state_path)
        self.provider = FakeProvider("unisound")
        self.out = io.StringIO()
        self.log = EventLog(self.out, "json")
        self.now = [1000.0]
        hooks = LogHooks(self.log)
        self.engine = Engine(self.config, self.store, {"unisound": self.provider}, hooks, 4, schedule=FAST)
        self.daemon = Daemon(self.config, Request(), self.engine, self.log, clock=lambda: self.now[0])
        hooks.listener = self.daemon.on_event

    def spec(self, videos: dict[str, str]) -> None:
        body = "".join(f"  {a}:\n    text: {t}\n" for a, t in videos.items())
        (self.root / "specs" / "a.yaml").write_text(SPEC_HEAD + (body or "  {}\n"), encoding="utf-8")

    async def cycle(self) -> None:
        await self.daemon.reconcile_once()
        await self.engine.wait()

    def events(self, name: str) -> list[dict]:
        return [r for r in map(json.loads, self.out.getvalue().splitlines()) if r["event"] == name]

    def submits(self) -> int:
        return len(self.provider.kinds("submit"))


def test_permanent_failure_is_logged_once_and_not_rendered_again(tmp_path):
    async def scenario():
        rig = DaemonRig(tmp_path)
        rig.spec({"a": "SIM_FAIL 一。", "b": "二。"})
        await rig.cycle()
        assert rig.store.get("a").status is Status.FAILED and rig.submits() == 2
        for _ in range(3):
            await rig.cycle()
        assert rig.submits() == 2
        skips = rig.events("skip")
        assert len(skips) == 1 and skips[0]["address"] == "a" and "reconciler apply" in skips[0]["message"]
        rig.spec({"a": "一,修好了。", "b": "二。"})  # a new fingerprint: rendered again
        await rig.cycle()
        assert rig.submits() == 3 and rig.store.get("a").status is Status.FINISHED
        await rig.engine.close()
    asyncio.run(scenario())


def test_transient_create_failure_is_retried_after_backoff(tmp_path):
    async def scenario():
        rig = DaemonRig(tmp_path)
        exc = TransientError("vendor unreachable", provider="unisound", sent=False)
        rig.provider.submit_errors.append(exc)
        rig.spec({"a": "一。"})
        await rig.cycle()
        assert rig.submits() == 1 and rig.store.get("a") is None and rig.events("retry")
        await rig.cycle()  # too soon: nothing sent
        assert rig.submits() == 1
        rig.now[0] += 10  # past the backoff (5 s +/- 25 %)
        await rig.cycle()
        assert rig.submits() == 2 and rig.store.get("a").status is Status.FINISHED
        await rig.engine.close()
    asyncio.run(scenario())


def test_mass_delete_is_refused_and_logged_once(tmp_path):
    async def scenario():
        rig = DaemonRig(tmp_path)
        rig.spec({"a": "一。", "b": "二。"})
        await rig.cycle()
        rig.spec({})
        rig.now[0] += 5
        for _ in range(2):
            await rig.cycle()
            rig.now[0] += 5
        assert len(rig.events("plan_refused")) == 1 and set(rig.store.recorded()) == {"a", "b"}
        await rig.engine.close()
    asyncio.run(scenario())


def test_nothing_is_planned_while_git_holds_the_index(tmp_path):
    async def scenario():
        (tmp_path / ".git").mkdir()
        rig = DaemonRig(tmp_path)
        rig.spec({"a": "一。"})
        (tmp_path / ".git" / "index.lock").write_text("")
        await rig.cycle()
        assert rig.submits() == 0 and rig.events("wait")
        (tmp_path / ".git" / "index.lock").unlink()
        await rig.cycle()
        assert rig.submits() == 1
        await rig.engine.close()
    asyncio.run(scenario())


def test_over_budget_reconcile_is_refused_and_logged_once(tmp_path):
    async def scenario():
        rig = DaemonRig(tmp_path)
        (tmp_path / "reconciler.yaml").write_text("budget: {max_renders: 1}\n")
        told: list[str] = []
        rig.daemon.notify_budget = told.append
        rig.spec({"a": "一。", "b": "二。"})
        for _ in range(3):
            await rig.cycle()
            rig.now[0] += 5
        assert told == ["2 renders > budget.max_renders 1"]  # notified once, too
        refused = rig.events("over_budget")
        assert len(refused) == 1 and "2 renders > budget.max_renders 1" in refused[0]["message"]
        assert rig.submits() == 0 and rig.store.recorded() == {}
        rig.spec({"a": "一。"})  # within budget: rendered
        await rig.cycle()
        assert rig.submits() == 1
        await rig.engine.close()
    asyncio.run(scenario())


def test_spec_warnings_are_logged_once_per_file_content(tmp_path):
    """Values outside the vendor lists: the warnings `plan` prints, logged by the daemon
    when a file's content is new to it, not every cycle; never stopping a render."""
    async def scenario():
        rig = DaemonRig(tmp_path)
        typo = SPEC_HEAD.replace("xuanxuan-plus", "xuanxuan-pluss")
        (tmp_path / "specs/a.yaml").write_text(typo + "  a:\n    text: 一。\n", encoding="utf-8")
        for _ in range(3):
            await rig.cycle()
            rig.now[0] += 5
        warned = rig.events("spec_warning")
        assert [(w["level"], w["file"], w["line"]) for w in warned] == [("warning", "specs/a.yaml", 3)]
        assert warned[0]["message"].startswith("specs/a.yaml:3: videos.a.speech_param.vcn: 'xuanxuan-pluss'")
        assert rig.submits() == 1  # a warning, not an error

        (tmp_path / "specs/a.yaml").write_text(typo + "  a:\n    text: 一。\n  b:\n    text: 二。\n", encoding="utf-8")
        for _ in range(2):
            await rig.cycle()
        assert [w["message"].split(": ")[1] for w in rig.events("spec_warning")[1:]] == [
            "videos.a.speech_param.vcn", "videos.b.speech_param.vcn"]  # new content: said again, once

        rig.spec({"a": "一。", "b": "二。"})  # the typo fixed
        await rig.cycle()
        assert len(rig.events("spec_warning")) == 3
        await rig.engine.close()
    asyncio.run(scenario())


def test_a_published_output_gone_is_noticed_and_brought_back(tmp_path):
    """The daemon notices a missing output as plan and apply do (the recipe), at its full
    re-check: a one-shot vendor's output deleted by hand is lost, so it is replaced, here
    from the render cache (no render paid); an output in place is left alone."""
    async def scenario():
        rig = DaemonRig(tmp_path)
        rig.spec({"a": "一。", "b": "二。"})
        await rig.cycle()
        await rig.cycle()
        assert rig.submits() == 2 and len(rig.events("plan")) == 3  # the second cycle: nothing to do
        gone = tmp_path / rig.store.get("a").output_file
        gone.unlink()
        rig.now[0] += 5
        await rig.daemon.reconcile_once(full=True)  # the periodic full re-check (and the start) look
        await rig.engine.wait()
        said = [p["message"] for p in rig.events("plan") if p["address"] == "a"]
        assert said[-1].startswith("replace: output lost: outputs/a.mp4 is missing")
        assert rig.submits() == 2 and gone.is_file() and rig.store.get("a").status is Status.FINISHED
        await rig.engine.close()
    asyncio.run(scenario())
