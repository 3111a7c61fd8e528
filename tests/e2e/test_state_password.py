"""A PostgreSQL state that refuses the password, through the real console script.

The suite's server trusts every login, so a wrong password was never refused there;
here a role of its own must give its password (``tests/pgserver.password_role``), and
the URL carries a wrong one. ``doctor`` still runs its whole checklist (and ``--json``
still prints it), the state check says the password was refused and where libpq looks
for one (``PGPASSWORD``, ``~/.pgpass``); ``plan`` and ``status`` exit 1 with one clear
line. No piece of the wrong password is ever shown.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests import pgserver
from tests.e2e.support import grep_secrets

ROLE = "hold"
RIGHT = "Right-Pass-91c4"
WRONG = "WRONG-p@ss-Qz7k"
PIECES = ("WRONG", "p@ss", "Qz7k", "WRONG-p", "ss-Qz7k")  # the password and its pieces of 4+ characters


@pytest.fixture
def refusing_url(pg_server) -> str:
    """The state URL of a role whose password the server demands, with a wrong one in it."""
    url = pgserver.password_role(ROLE, RIGHT)  # postgresql://hold@/db?host=...
    return url.replace(f"//{ROLE}@", f"//{ROLE}:{quote(WRONG, safe='')}@", 1)


def assert_nothing_of_the_password(result) -> None:
    shown = result.stdout + result.stderr
    assert [p for p in PIECES if p in shown] == [], shown
    assert quote(WRONG, safe="") not in shown and RIGHT not in shown, shown
    assert "Traceback" not in shown, shown
    assert grep_secrets(result.stdout, result.stderr) == []


def test_doctor_json_lists_every_check_when_the_password_is_refused(project, sim, refusing_url):
    project.state_url = refusing_url
    project.write_specs(xingyun={"xy/a": "hello"}, unisound={"uni/a": "hello"})
    result = project.run("doctor", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    checks = json.loads(result.stdout)
    found = {c["name"]: c for c in checks}
    assert [c["name"] for c in checks][:4] == ["config", "specs", "state", "lock"]
    assert found["config"]["status"] == "ok" and found["specs"]["status"] == "ok"
    state = found["state"]
    assert state["status"] == "error", state
    assert "password authentication failed" in state["detail"], state
    assert "PGPASSWORD" in state["fix"] and "~/.pgpass" in state["fix"], state
    assert found["lock"]["status"] == "error" and "see the state check" in found["lock"]["detail"]
    # the rest of the checklist ran: credentials and each vendor against the simulator
    for vendor in ("xingyun", "unisound"):
        assert found[f"{vendor} credentials"]["status"] == "ok", found
        assert found[f"{vendor} api"]["status"] == "ok", found
    assert_nothing_of_the_password(result)


def test_a_missing_password_names_where_libpq_looks_for_one(project, sim, refusing_url):
    project.state_url = refusing_url.replace(f":{quote(WRONG, safe='')}@", "@", 1)
    project.write_specs(xingyun={"xy/a": "hello"})
    result = project.run("plan", PGPASSWORD="", PGPASSFILE=str(project.root / "no-such-pgpass"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no password supplied" in result.stderr and "PGPASSWORD or ~/.pgpass" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_doctor_prints_every_check_when_the_password_is_refused(project, sim, refusing_url):
    project.state_url = refusing_url
    project.write_specs(xingyun={"xy/a": "hello"})
    as_json = {c["name"] for c in json.loads(project.run("doctor", "--json").stdout)}
    result = project.run("doctor")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name in as_json:
        assert any(line.split(None, 1)[1].startswith(name) for line in lines if line[:7].strip() in
                   ("ok", "warning", "error")), (name, result.stdout)
    assert any(line.startswith("error") and "password authentication failed" in line for line in lines), result.stdout
    assert "PGPASSWORD" in result.stdout and "~/.pgpass" in result.stdout
    assert f"{len(as_json)} checks:" in result.stdout
    assert_nothing_of_the_password(result)


def test_a_missing_password_names_where_libpq_looks_for_one(project, sim, refusing_url):
    project.state_url = refusing_url.replace(f":{quote(WRONG, safe='')}@", "@", 1)
    project.write_specs(xingyun={"xy/a": "hello"})
    result = project.run("plan", PGPASSWORD="", PGPASSFILE=str(project.root / "no-such-pgpass"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no password supplied" in result.stderr and "PGPASSWORD or ~/.pgpass" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["plan", "status"])
def test_a_refused_password_is_one_clear_line(project, sim, refusing_url, command):
    project.state_url = refusing_url
    project.write_specs(xingyun={"xy/a": "hello"})
    result = project.run(command)
    assert result.returncode == 1, result.stdout + result.stderr
    said = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(said) == 1, result.stderr
    assert f"cannot reach the PostgreSQL state postgresql://{ROLE}:***@" in said[0], said
    assert "password authentication failed" in said[0], said
    assert "PGPASSWORD" in said[0] and "~/.pgpass" in said[0], said
    assert_nothing_of_the_password(result)


def test_a_missing_password_names_where_libpq_looks_for_one(project, sim, refusing_url):
    project.state_url = refusing_url.replace(f":{quote(WRONG, safe='')}@", "@", 1)
    project.write_specs(xingyun={"xy/a": "hello"})
    result = project.run("plan", PGPASSWORD="", PGPASSFILE=str(project.root / "no-such-pgpass"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no password supplied" in result.stderr and "PGPASSWORD or ~/.pgpass" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
