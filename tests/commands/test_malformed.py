"""Every malformed project fails the way a user can act on, through the real CLI.

The cases live in ``tests/commands/malformed/<case>/`` (see ``make_cases.py`` there): each is a
small project wrong in one way, with ``expected.txt`` listing what the error output
must say (``file:line: where: message`` parts). Each case runs ``reconciler validate``
and ``reconciler plan`` as subprocesses and must exit 1, name the file and line, show
no traceback, and leave an existing state DB byte for byte as it was.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

CASES_DIR = Path(__file__).parent / "malformed"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "expected.txt").exists())
COMMANDS = (["validate"], ["plan", "--json"])
FILE_LINE = re.compile(r"(^|\s)[\w./-]+\.(yaml|yml|j2):\d+:", re.M)


def make_state_db(project: Path) -> bytes:
    """A state DB with some content, so we can prove nobody touched it."""
    db = project / "state" / "reconciler.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as conn:
        conn.execute("create table sentinel (k text primary key, v text)")
        conn.execute("insert into sentinel values ('written-by', 'test_malformed')")
    conn.close()
    return db.read_bytes()


def copy_case(name: str, tmp_path: Path) -> Path:
    project = tmp_path / name
    shutil.copytree(CASES_DIR / name, project, symlinks=True)
    (project / "expected.txt").unlink()
    (tmp_path / "outside.pptx").write_bytes(b"a deck that lies outside the project")
    return project


def run_cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reconciler", "-C", str(project), *args],
                          capture_output=True, text=True, timeout=60)


def run_all(project: Path, commands) -> list[tuple[list[str], int, str, str]]:
    """Run the commands side by side (they only read); return (command, rc, out, err)."""
    procs = [(c, subprocess.Popen([sys.executable, "-m", "reconciler", "-C", str(project), *c],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
             for c in commands]
    results = []
    for command, proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append((command, proc.returncode, out, err))
    return results


def test_there_are_enough_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize("name", CASES)
def test_malformed_project_fails_cleanly(name: str, tmp_path: Path):
    expected = (CASES_DIR / name / "expected.txt").read_text(encoding="utf-8").splitlines()
    project = copy_case(name, tmp_path)
    db_before = make_state_db(project)
    for command, returncode, out, err in run_all(project, COMMANDS):
        assert returncode == 1, (command, out, err)
        assert "Traceback" not in out + err, (command, out, err)
        assert FILE_LINE.search(err), (command, err)
        for part in filter(None, expected):
            assert part in err, (command, part, err)
    assert (project / "state" / "reconciler.db").read_bytes() == db_before
    assert not (project / "outputs").exists()


def test_all_errors_of_all_files_in_one_run(tmp_path: Path):
    project = copy_case("errors_in_several_files", tmp_path)
    proc = run_cli(project, "validate")
    lines = [line.removeprefix("Error: ") for line in proc.stderr.splitlines()]
    located = [line for line in lines if FILE_LINE.match(line)]
    assert [line.split(":")[0] for line in located] == [
        "specs/a.yaml", "specs/b/b.yaml", "specs/b/b.yaml", "specs/c.yaml.j2", "specs/d.yaml"]
    assert located == sorted(located, key=lambda x: (x.split(":")[0], int(x.split(":")[1])))
    assert lines[-1] == "5 errors in specs; nothing was changed."


def test_fixing_the_file_makes_validate_pass(tmp_path: Path):
    """The cache never serves a stale verdict: fix the spec and the error is gone."""
    project = copy_case("sub_title_bad_value", tmp_path)
    assert run_cli(project, "validate").returncode == 1
    spec = project / "specs" / "a.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("maybe", "off"), encoding="utf-8")
    proc = run_cli(project, "validate")
    assert (proc.returncode, proc.stdout.strip()) == (0, "1 videos OK"), proc.stderr
