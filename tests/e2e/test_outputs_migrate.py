"""`reconciler outputs migrate --to LOCATION` and the refusal of a switched `outputs:`
(docs/team.md, issue 22), end to end: the console script against `reconciler sim` and,
for buckets, the suite's real S3 server. No render and no vendor download is allowed
during a migrate or after it (counted in the sim's ledger); the source stays as it was."""

from __future__ import annotations

import hashlib
import json
import shutil

from tests.e2e.support import S3Project, on_both_backends, wait_until

SPECS = dict(xingyun={"xy/a": "第一段", "xy/b": "第二段"}, unisound={"uni/a": "你好"})
MARKER = ".reconciler-outputs.json"


def paid_or_fetched(sim) -> tuple[int, int]:
    """Creates answered and outputs downloaded from a vendor so far."""
    return len([e for e in sim.calls("create") if e["ok"]]), len(sim.calls("download"))


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def configure(project, outputs: str) -> None:
    (project.root / "reconciler.yaml").write_text(f"parallelism: 4\noutputs: {outputs}\n")


def snapshot(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_settled(project, files: dict[str, str]) -> None:
    """After the switch: plan has nothing to do, status points at the new place, refresh
    finds every output (none fetched again, none lost)."""
    plan = project.plan_json()
    assert plan["summary"]["noop"] == len(files) and all(c["action"] == "noop" for c in plan["changes"]), plan
    status = json.loads(ok(project.run("status", "--json")).stdout)["videos"]
    assert {a: v["file"] for a, v in status.items()} == files
    ok(project.run("refresh"))
    after = project.recorded()
    assert {a: v.output_file for a, v in after.items()} == files
    assert all(v.status.value == "finished" and not v.output_lost for v in after.values())
    assert project.manifest() == json.loads(project.run("status", "--json").stdout)


@on_both_backends
def test_folder_to_bucket_after_the_line_was_switched(s3_project: S3Project, sim):
    project = s3_project
    configure(project, "outputs")
    project.write_specs(**SPECS)
    ok(project.apply())
    before = project.recorded()
    source = snapshot(project.root / "outputs")
    spent = paid_or_fetched(sim)
    bucket_url = f"s3://{project.bucket}/{project.prefix}"

    project.configure()  # `outputs: s3://...` written, nothing migrated
    for command in (("plan",), ("apply", "--auto-approve"), ("refresh",), ("watch",)):
        refused = project.run(*command)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"reconciler outputs migrate --to {bucket_url}" in refused.stderr
        assert "Traceback" not in refused.stderr
    doctor = project.run("doctor", "--json")
    assert doctor.returncode == 1
    assert [c["status"] for c in json.loads(doctor.stdout) if c["name"] == "outputs location"] == ["error"]
    assert project.recorded() == before and project.objects() == {}, "a refused command changed something"

    result = ok(project.run("outputs", "migrate", "--to", bucket_url))
    assert "verified by sha256" in result.stdout and "already says" in result.stdout
    files = {a: project.url(a, v.output_sha256) for a, v in before.items()}
    for address, video in before.items():
        key = project.key(address, video.output_sha256)
        assert project.head(key) == (video.output_bytes, {"sha256": video.output_sha256})
        assert hashlib.sha256(project.get(key)).hexdigest() == video.output_sha256
        assert project.head(f"{project.prefix}/.cache/{video.fingerprint}.mp4") == (
            video.output_bytes, {"sha256": video.output_sha256})
    assert_settled(project, files)
    assert paid_or_fetched(sim) == spent, "a migrate rendered or downloaded"
    assert snapshot(project.root / "outputs") == source, "the source folder changed"


@on_both_backends
def test_bucket_to_folder_then_the_old_line_is_refused_until_changed(s3_project: S3Project, sim):
    project = s3_project
    project.write_specs(**SPECS)
    ok(project.apply())
    before = project.recorded()
    objects = project.objects() | project.objects(cache=True)
    spent = paid_or_fetched(sim)

    result = ok(project.run("outputs", "migrate", "--to", "moved"))
    assert "reconciler.yaml:2 to `outputs: moved`" in result.stdout
    refused = project.run("plan")
    assert refused.returncode == 1 and "change it to `outputs: moved`" in refused.stderr

    configure(project, "moved")
    files = {a: f"moved/{a}.mp4" for a in before}
    for address, video in before.items():
        data = (project.root / files[address]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == video.output_sha256
        assert (project.root / f"moved/.cache/{video.fingerprint}.mp4").is_file()
    assert_settled(project, files)
    assert paid_or_fetched(sim) == spent
    assert project.objects() | project.objects(cache=True) == objects, "the source bucket changed"


@on_both_backends
def test_an_interrupted_migrate_completes_and_a_damaged_copy_is_copied_again(project, sim):
    project.write_specs(**SPECS)
    ok(project.apply())
    before = project.recorded()
    spent = paid_or_fetched(sim)

    killed = project.run("outputs", "migrate", "--to", "elsewhere", RECONCILER_TEST_CRASH_AT="after_migrate_copy:2")
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert project.plan_json()["summary"]["noop"] == 3  # still the old place, nothing switched
    copied = sorted(p for p in (project.root / "elsewhere").rglob("*.mp4"))
    assert len(copied) == 2
    copied[0].write_bytes(b"\0" * copied[0].stat().st_size)  # a copy damaged since: same size, other bytes

    results = []  # a killed writer's PostgreSQL lease runs out first (docs/team.md)
    wait_until(lambda: "locked by" not in (results.append(project.run("outputs", "migrate", "--to", "elsewhere"))
                                           or results[-1]).stderr, what="the killed migrate's lease to expire")
    ok(results[-1])
    configure(project, "elsewhere")
    for address, video in before.items():
        assert hashlib.sha256((project.root / f"elsewhere/{address}.mp4").read_bytes()).hexdigest() == \
            video.output_sha256, address
    assert_settled(project, {a: f"elsewhere/{a}.mp4" for a in before})
    assert paid_or_fetched(sim) == spent


@on_both_backends
def test_a_damaged_source_output_is_not_copied(project, sim):
    project.write_specs(xingyun={"xy/a": "第一段"}, unisound={"uni/a": "你好"})
    ok(project.apply())
    spent = paid_or_fetched(sim)
    damaged = project.root / "outputs/uni/a.mp4"
    damaged.write_bytes(b"\0" * damaged.stat().st_size)

    result = ok(project.run("outputs", "migrate", "--to", "elsewhere"))
    assert "uni/a" in result.stdout and "missing or damaged" in result.stdout
    assert not (project.root / "elsewhere/uni/a.mp4").exists()
    assert (project.root / "elsewhere/xy/a.mp4").is_file()
    assert paid_or_fetched(sim) == spent


def test_a_target_holding_another_states_outputs_is_refused(project, sim, tmp_path):
    project.write_specs(xingyun={"xy/a": "第一段"})
    ok(project.apply())
    shared = tmp_path / "shared"
    other = tmp_path / "other"
    shutil.copytree(project.root, other, ignore=shutil.ignore_patterns("state", "outputs"))
    (other / "specs/xingyun.yaml").write_text((other / "specs/xingyun.yaml").read_text().replace("第一段", "另一段"))
    ok(project.run("-C", str(other), "apply", "--auto-approve"))
    ok(project.run("-C", str(other), "outputs", "migrate", "--to", str(shared)))
    before = project.recorded()
    held = snapshot(shared)

    refused = project.run("outputs", "migrate", "--to", str(shared))
    assert refused.returncode == 1 and "holds the outputs of another state" in refused.stderr
    assert snapshot(shared) == held and project.recorded() == before
    assert project.plan_json()["summary"]["noop"] == 1

    (tmp_path / "stray").mkdir()
    (tmp_path / "stray/video.mp4").write_bytes(b"someone else's")
    refused = project.run("outputs", "migrate", "--to", str(tmp_path / "stray"))
    assert refused.returncode == 1 and "already holds files" in refused.stderr
    assert project.recorded() == before
