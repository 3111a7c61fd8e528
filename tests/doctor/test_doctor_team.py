"""`reconciler doctor` for a team's setup, through the real console script: each
``notify:`` variable is set to an http(s) URL (named, never printed, never called); the
outputs bucket takes an upload and a delete (a bucket that answers its HEAD but refuses
writes is an error naming the missing permission, found with the fault proxy in front
of the suite's real S3 server); and fix hints name only the variables that are unset,
or the value that was refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).with_name("reconciler"))
HOOK = "https://open.feishu.cn/open-apis/bot/v2/hook/Secret-hook-7f3a"
OURS = ("XINGYUN_", "UNISOUND_", "RECONCILER_SIM", "AWS_", "FEISHU_", "SLACK_", "TEAM_")


def doctor(root: Path, env: dict[str, str]) -> tuple[int, dict[str, dict]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(OURS)}
    done = subprocess.run([CLI, "-C", str(root), "doctor", "--json"], capture_output=True, text=True,
                          env={**base, **env}, timeout=120)
    assert "Traceback" not in done.stderr
    for name in ("AWS_SECRET_ACCESS_KEY", "FEISHU_HOOK", "SLACK_HOOK"):
        if env.get(name):
            assert env[name] not in done.stdout + done.stderr
    return done.returncode, {c["name"]: c for c in json.loads(done.stdout)}


def project(tmp_path: Path, yaml: str) -> Path:
    root = tmp_path / "project"
    (root / "specs").mkdir(parents=True)
    (root / "reconciler.yaml").write_text(yaml, encoding="utf-8")
    return root


@pytest.fixture
def s3_proxy(s3_server):
    from tests.s3proxy import S3Proxy

    proxy = S3Proxy(s3_server.endpoint)
    yield proxy
    proxy.close()


# --------------------------------------------------------------------------- notify

NOTIFY = """\
parallelism: 4
notify:
  - url_env: FEISHU_HOOK
    format: feishu
  - url_env: SLACK_HOOK
    format: slack
"""


def test_an_unset_notify_variable_is_a_warning_naming_it_and_its_line(tmp_path):
    code, found = doctor(project(tmp_path, NOTIFY), {"SLACK_HOOK": "https://hooks.slack.com/services/T0/B0/x"})
    assert code == 0 and found["notify"]["status"] == "warning"
    assert ("reconciler.yaml:3: notify[0].url_env FEISHU_HOOK is not set: no feishu messages will be sent"
            in found["notify"]["detail"])
    assert "SLACK_HOOK" not in found["notify"]["detail"] and "Export each variable" in found["notify"]["fix"]


def test_set_notify_variables_are_ok_and_never_called_or_printed(tmp_path):
    code, found = doctor(project(tmp_path, NOTIFY), {"FEISHU_HOOK": HOOK,
                                                      "SLACK_HOOK": "http://127.0.0.1:9/never-called"})
    assert code == 0 and found["notify"]["status"] == "ok"
    assert "FEISHU_HOOK (feishu), SLACK_HOOK (slack)" in found["notify"]["detail"]


def test_a_malformed_notify_url_names_the_variable_not_the_url(tmp_path):
    code, found = doctor(project(tmp_path, NOTIFY), {"FEISHU_HOOK": "open.feishu.cn/hook/Secret-hook-7f3a",
                                                      "SLACK_HOOK": "ftp://hooks.example.com/Secret-x"})
    assert code == 0 and found["notify"]["status"] == "warning"
    detail = found["notify"]["detail"]
    assert "notify[0].url_env FEISHU_HOOK is not a webhook URL (it has no scheme" in detail
    assert "reconciler.yaml:5: notify[1].url_env SLACK_HOOK is not a webhook URL (not an http(s) URL" in detail
    assert "Secret" not in json.dumps(found) and "feishu.cn" not in json.dumps(found)


# --------------------------------------------------------------------------- bucket writes

def test_a_writable_bucket_is_ok_and_the_test_object_is_gone(tmp_path, s3_server, s3_bucket):
    code, found = doctor(project(tmp_path, f"outputs: s3://{s3_bucket}/launch\n"), s3_server.env())
    assert code == 0, found
    assert found["outputs bucket"]["status"] == "ok" and found["bucket writes"]["status"] == "ok"
    assert f"uploaded under s3://{s3_bucket}/launch/.doctor/ and deleted" in found["bucket writes"]["detail"]
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_a_bucket_refusing_uploads_is_an_error_naming_s3_putobject(tmp_path, s3_server, s3_bucket, s3_proxy):
    s3_proxy.fail(403, method="PUT")
    code, found = doctor(project(tmp_path, f"outputs: s3://{s3_bucket}/launch\n"), s3_server.env(s3_proxy.url))
    assert code == 1 and found["outputs bucket"]["status"] == "ok"  # the HEAD alone passed this bucket
    writes = found["bucket writes"]
    assert writes["status"] == "error"
    assert f"bucket {s3_bucket} at {s3_proxy.url}" in writes["detail"] and "HTTP 403" in writes["detail"]
    assert f"s3:PutObject on arn:aws:s3:::{s3_bucket}/launch/*" in writes["fix"]
    assert "AWS_SECRET_ACCESS_KEY" not in writes["fix"]
    assert [e.method for e in s3_proxy.log if ".doctor/" in e.target] == ["PUT"]  # nothing else tried


def test_a_bucket_refusing_deletes_is_an_error_naming_s3_deleteobject(tmp_path, s3_server, s3_bucket, s3_proxy):
    s3_proxy.fail(403, method="DELETE")
    code, found = doctor(project(tmp_path, f"outputs: s3://{s3_bucket}\n"), s3_server.env(s3_proxy.url))
    writes = found["bucket writes"]
    assert code == 1 and writes["status"] == "error"
    assert f"s3:DeleteObject on arn:aws:s3:::{s3_bucket}/*" in writes["fix"]
    left = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    assert len(left) == 1 and left[0].startswith(".doctor/") and left[0] in writes["fix"]  # named to delete


# --------------------------------------------------------------------------- hints name what is missing

def test_the_bucket_hint_names_only_the_unset_variables(tmp_path, s3_server, s3_bucket):
    root = project(tmp_path, f"outputs: s3://{s3_bucket}\n")
    env = s3_server.env()
    del env["AWS_SECRET_ACCESS_KEY"]
    code, found = doctor(root, env)
    fix = found["outputs bucket"]["fix"]
    assert code == 1 and "export AWS_SECRET_ACCESS_KEY=..." in fix
    assert "AWS_ACCESS_KEY_ID" not in fix and "AWS_ENDPOINT_URL" not in fix and "AWS_REGION" not in fix
    assert "AWS_ENDPOINT_URL" not in found["outputs bucket"]["detail"]  # it is set
    code, found = doctor(root, {**env, "AWS_ENDPOINT_URL": "127.0.0.1:8333"})  # the endpoint is said first
    assert code == 1 and found["outputs bucket"]["fix"].startswith("Set AWS_ENDPOINT_URL to the service's base URL")
    assert "bucket writes" not in found


def test_when_all_are_set_the_hint_names_the_refused_value(tmp_path, s3_server, s3_bucket):
    root = project(tmp_path, f"outputs: s3://{s3_bucket}\n")
    code, found = doctor(root, {**s3_server.env(), "AWS_SECRET_ACCESS_KEY": "wrong-Secret-123"})
    assert code == 1 and found["outputs bucket"]["fix"].startswith("AWS_SECRET_ACCESS_KEY was refused")
    code, found = doctor(root, {**s3_server.env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    fix = found["outputs bucket"]["fix"]
    assert code == 1 and fix.startswith("AWS_ENDPOINT_URL is set but nothing answers there")
    assert "AWS_ACCESS_KEY_ID" not in fix


VENDOR_SPEC = """\
videos:
  launch/intro:
    provider: xingyun
    look_name: AM054_Jap_9021_new
    tts_vcn_name: XMOV_HN_TTS__236
    studio_name: youling_2d_v
    segment: [{text: 同期将举行多场论坛。}]
"""


def test_the_vendor_hints_name_only_what_is_unset(tmp_path):
    root = project(tmp_path, "parallelism: 4\n")
    (root / "specs" / "a.yaml").write_text(VENDOR_SPEC, encoding="utf-8")
    away = {"XINGYUN_ENDPOINT": "https://xingyun.example.com", "XINGYUN_APP_ID": "xy-app"}  # no call is made
    code, found = doctor(root, away)
    fix = found["xingyun credentials"]["fix"]
    assert code == 1 and fix.startswith("export XINGYUN_APP_SECRET=...") and "XINGYUN_APP_ID" not in fix
    code, found = doctor(root, {"XINGYUN_ENDPOINT": "ftp://xingyun.example.com"})
    fix = found["xingyun credentials"]["fix"]
    assert code == 1 and fix.startswith("XINGYUN_ENDPOINT is set (it beats reconciler.yaml)")
    root.joinpath("reconciler.yaml").write_text("providers:\n  xingyun:\n    endpoint: ftp://xingyun.example.com\n")
    code, found = doctor(root, {})
    fix = found["xingyun credentials"]["fix"]
    assert code == 1 and fix.startswith("Set `providers.xingyun.endpoint` in reconciler.yaml")
    assert "XINGYUN_ENDPOINT" not in fix


def test_a_refusal_of_the_simulator_defaults_says_the_variables_are_unset(tmp_path):
    from reconciler import sim

    srv = sim.start_in_thread(state_dir=tmp_path / "simstate", render_seconds=1,
                              credentials={"xingyun": {"app_id": "xy-app", "secret": "xy-Secret-4c1d"}})
    try:
        root = project(tmp_path, "parallelism: 4\n")
        (root / "specs" / "a.yaml").write_text(VENDOR_SPEC, encoding="utf-8")
        code, found = doctor(root, {"XINGYUN_ENDPOINT": srv.url})  # loopback: sim-app/sim-secret are sent
    finally:
        srv.stop()
    assert code == 1 and found["xingyun api"]["status"] == "error"
    assert found["xingyun api"]["fix"].startswith("XINGYUN_APP_ID and XINGYUN_APP_SECRET are unset, so the "
                                                  "simulator's defaults were sent")
