"""Secrets inside URLs never reach stdout or stderr, through the real console script.

A PostgreSQL password pasted unescaped (with ``@``, ``:``, ``/``, ``%`` and non-ASCII
letters in it) works, and whether the database answers or not, no piece of it is shown by
plan, status, apply, ``doctor --json`` or ``--debug refresh`` (libpq on its own took the
first ``@`` and quoted the rest of the password back as a host name). An
``AWS_ENDPOINT_URL`` with credentials in it, or with no scheme, and a webhook URL that
cannot be read, are each a clear message naming the variable, never a traceback.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.support import grep_secrets

# Each piece between the separators is distinctive: none may appear in any output.
PIECES = ("PwA1x", "PwB2y", "PwC3z", "PwD4%ü", "PwE5ß")
PASSWORD = f"{PIECES[0]}@{PIECES[1]}:{PIECES[2]}/{PIECES[3]}@{PIECES[4]}"
COMMANDS = (("plan",), ("status",), ("apply", "--auto-approve"), ("doctor", "--json"), ("--debug", "refresh"))


def assert_no_piece(result) -> None:
    shown = result.stdout + result.stderr
    assert [p for p in PIECES if p in shown] == [], shown
    assert "Pw" not in shown, shown
    assert "Traceback" not in shown, shown
    assert grep_secrets(result.stdout, result.stderr) == []


def with_password(url: str) -> str:
    """``url`` (``postgresql://postgres:@/db?host=...`` from tests/pgserver.py) with PASSWORD
    pasted into it as a person would, unescaped."""
    scheme, rest = url.split("://", 1)
    userinfo, _, tail = rest.rpartition("@")
    return f"{scheme}://{userinfo.partition(':')[0]}:{PASSWORD}@{tail}"


def test_an_unescaped_password_works_and_no_piece_of_it_is_shown(project, sim, pg_url):
    project.state_url = with_password(pg_url)
    project.write_specs(xingyun={"xy/a": "hello"})
    for command in COMMANDS:
        result = project.run(*command)
        assert result.returncode == 0, (command, result.stdout + result.stderr)
        assert_no_piece(result)


def test_an_unreachable_database_shows_no_piece_of_the_password(project, sim):
    project.state_url = f"postgresql://team:{PASSWORD}@127.0.0.1:1/videos"
    project.write_specs(xingyun={"xy/a": "hello"})
    for command in COMMANDS:
        result = project.run(*command)
        assert result.returncode == 1, (command, result.stdout + result.stderr)
        assert_no_piece(result)
        if command[0] != "doctor":
            assert "cannot reach the PostgreSQL state postgresql://team:***@127.0.0.1:1/videos" in result.stderr


def test_doctor_runs_every_check_when_the_state_database_cannot_be_reached(project, sim):
    project.state_url = f"postgresql://team:{PASSWORD}@127.0.0.1:1/videos"
    project.write_specs(xingyun={"xy/a": "hello"}, unisound={"uni/a": "hello"})
    result = project.run("doctor", "--json")
    assert result.returncode == 1
    found = {c["name"]: c for c in json.loads(result.stdout)}
    assert found["state"]["status"] == "error" and "cannot reach the PostgreSQL state" in found["state"]["detail"]
    assert "database server" in found["state"]["fix"]
    assert found["lock"]["status"] == "error"
    # the rest of the checklist still ran: the vendors were checked against the simulator
    assert found["xingyun api"]["status"] == "ok" and found["unisound api"]["status"] == "ok"
    assert found["specs"]["status"] == "ok"
    assert_no_piece(result)


@pytest.mark.parametrize("command", [("doctor", "--json"), ("apply", "--auto-approve")])
def test_an_endpoint_url_with_credentials_is_refused_without_showing_them(project, sim, command):
    (project.root / "reconciler.yaml").write_text("parallelism: 2\noutputs: s3://videos/team\n")
    project.write_specs(xingyun={"xy/a": "hello"})
    result = project.run(*command, AWS_ENDPOINT_URL="http://minio:PwA1x@127.0.0.1:9000",
                         AWS_ACCESS_KEY_ID="key", AWS_SECRET_ACCESS_KEY="PwB2y-secret")
    assert result.returncode == 1
    assert "AWS_ENDPOINT_URL (environment) holds credentials" in result.stdout + result.stderr
    assert_no_piece(result)
    assert sim.calls("create") == []


def test_an_endpoint_url_without_a_scheme_is_a_clear_doctor_error(project, sim):
    (project.root / "reconciler.yaml").write_text("parallelism: 2\noutputs: s3://videos/team\n")
    result = project.run("doctor", "--json", AWS_ENDPOINT_URL="127.0.0.1:8333",
                         AWS_ACCESS_KEY_ID="key", AWS_SECRET_ACCESS_KEY="secret-key")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    bucket = {c["name"]: c for c in json.loads(result.stdout)}["outputs bucket"]
    assert bucket["status"] == "error"
    assert bucket["detail"].startswith("AWS_ENDPOINT_URL (environment): it has no scheme")
    assert "http://127.0.0.1:8333" in bucket["detail"]  # what is expected


@pytest.mark.parametrize("url", ["https://hooks.example.com:443x/send", "https://hooks.example.com/se\x01nd"])
def test_a_malformed_webhook_url_is_a_warning_naming_the_variable(project, sim, url):
    (project.root / "reconciler.yaml").write_text(
        "parallelism: 2\nnotify:\n  - {url_env: TEAM_HOOK, format: slack, on: [finished]}\n")
    project.write_specs(xingyun={"xy/a": "hello"})
    result = project.run("apply", "--auto-approve", TEAM_HOOK=url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "notify: $TEAM_HOOK is not a usable webhook URL" in result.stderr
    assert "Traceback" not in result.stderr and "hooks.example.com" not in result.stdout + result.stderr


def test_a_state_url_that_cannot_be_read_says_to_percent_encode_and_shows_none_of_it(project, sim):
    project.state_url = f"postgresql://team:{PASSWORD}@127.0.0.1:54x32/videos"
    for command in (("plan",), ("doctor", "--json")):
        result = project.run(*command)
        assert result.returncode == 1
        shown = result.stdout + result.stderr
        assert "RECONCILER_STATE_URL (environment): the PostgreSQL URL cannot be read" in shown
        assert "Percent-encode" in shown and "54x32" not in shown
        assert_no_piece(result)


@pytest.mark.parametrize("endpoint, said", [
    ("127.0.0.1:8765", "XINGYUN_ENDPOINT (environment): it has no scheme"),
    ("http://u:PwA1x@127.0.0.1:8765", "XINGYUN_ENDPOINT (environment) holds a user part"),
    ("http://127.0.0.1:87x5", "XINGYUN_ENDPOINT (environment): its port is not a number"),
])
def test_a_vendor_endpoint_that_cannot_be_used_is_a_clear_error_naming_the_variable(project, sim, endpoint, said):
    project.write_specs(xingyun={"xy/a": "hello"})
    doctor = project.run("doctor", "--json", XINGYUN_ENDPOINT=endpoint)
    assert doctor.returncode == 1
    check = {c["name"]: c for c in json.loads(doctor.stdout)}["xingyun credentials"]
    assert check["status"] == "error" and said in check["detail"] and "XINGYUN_ENDPOINT" in check["fix"]
    apply = project.run("apply", "--auto-approve", XINGYUN_ENDPOINT=endpoint)
    assert apply.returncode == 1 and said in apply.stderr
    for result in (doctor, apply):
        assert_no_piece(result)
        assert "8765" not in result.stdout + result.stderr and "87x5" not in result.stdout + result.stderr
