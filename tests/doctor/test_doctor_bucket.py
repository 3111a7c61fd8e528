"""`doctor` with ``outputs: s3://``: one free HEAD of the bucket on the real S3 server the
suite starts, saying what is wrong (endpoint unreachable, 403 credentials, no bucket) and
what to set; never the secret. With local outputs there is no bucket check."""

from __future__ import annotations

import datetime as dt

from reconciler.doctor.checks import ERROR, OK, run_checks

NOW = dt.datetime(2026, 12, 5, tzinfo=dt.timezone.utc)


def bucket_check(root, env):
    return {c.name: c for c in run_checks(root, env=env, now=NOW)}.get("outputs bucket")


def project(tmp_path, outputs: str):
    (tmp_path / "specs").mkdir(exist_ok=True)
    (tmp_path / "reconciler.yaml").write_text(f"outputs: {outputs}\n")
    return tmp_path


def test_a_reachable_bucket_is_ok(tmp_path, s3_server, s3_bucket):
    check = bucket_check(project(tmp_path, f"s3://{s3_bucket}/launch"), s3_server.env())
    assert check.status == OK and f"s3://{s3_bucket}/launch answers at {s3_server.endpoint}" in check.detail


def test_wrong_credentials_no_bucket_and_no_endpoint_are_errors_with_the_fix(tmp_path, s3_server, s3_bucket):
    root = project(tmp_path, f"s3://{s3_bucket}")
    wrong = bucket_check(root, {**s3_server.env(), "AWS_SECRET_ACCESS_KEY": "wrong-Secret-123"})
    assert wrong.status == ERROR and "HTTP 403" in wrong.detail and "wrong-Secret-123" not in wrong.detail + wrong.fix
    missing = bucket_check(project(tmp_path, "s3://no-such-bucket-42"), s3_server.env())
    assert missing.status == ERROR and "there is no bucket no-such-bucket-42" in missing.detail
    down = bucket_check(root, {**s3_server.env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert down.status == ERROR and "cannot connect to http://127.0.0.1:9" in down.detail
    unset = bucket_check(root, {"AWS_ENDPOINT_URL": s3_server.endpoint})
    assert unset.status == ERROR and "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in unset.detail


def test_local_outputs_have_no_bucket_check(tmp_path):
    assert bucket_check(project(tmp_path, "outputs"), {}) is None


def test_a_download_waiting_for_its_upload_is_named(tmp_path):
    from reconciler.config import load_config
    from reconciler.model import DesiredVideo
    from reconciler.state.sqlite import StateStore

    root = project(tmp_path, "s3://videos/x")
    config = load_config(root)
    store = StateStore(config.state_path)
    desired = DesiredVideo(address="faq/q1", provider="unisound", request={"text": "hi"}, fingerprint="f" * 64,
                           spec_file="specs/faq.yaml")
    attempt = store.begin_attempt(desired, "test")
    store.attempt_submitted("faq/q1", attempt, "t1")
    from reconciler.model import Status

    store.record_task("faq/q1", "t1", Status.FINISHED, video_url="http://x/v.mp4", downloading=True)
    store.close()
    (config.uploads_dir / "faq").mkdir(parents=True)
    (config.uploads_dir / "faq/q1.mp4").write_bytes(b"staged")
    checks = {c.name: c for c in run_checks(root, env={}, now=NOW)}
    assert "faq/q1 (downloaded, upload to the bucket pending)" in checks["downloads"].detail
    assert "state/uploads/" in checks["downloads"].fix and checks["outputs bucket"].status == ERROR
