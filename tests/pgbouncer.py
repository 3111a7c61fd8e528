"""PgBouncer in transaction mode in front of the session's PostgreSQL (``tests/pgserver.py``).

Why: docs/team.md says the writer lock works through a connection pooler in transaction
mode, the setting that breaks Terraform's pg backend (session advisory locks) and any
client that relies on session state: a pooler hands each transaction to whichever
server connection is free, and PgBouncer refuses the ``options`` startup parameter. No
PyPI wheel ships PgBouncer; Debian's ``pgbouncer`` package does (``.ci/run`` installs it
when it runs as root). Where it is missing, the tests that need it are skipped saying
how to get it.

One bouncer per test session, started on first use: a generated ini (``pool_mode =
transaction``, a small pool so transactions of different clients really share server
connections, ``auth_type = trust`` like the test server's own socket), listening on a
free port of 127.0.0.1 and reaching the server through its Unix socket. PgBouncer
refuses to run as root: as root it runs as the user that owns the server's socket
folder (``-u``), who can reach the socket.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests import pgserver

MISSING = ("PgBouncer is not installed: `apt-get install pgbouncer` (Debian/Ubuntu) to run the tests of the "
           "state through a pooler in transaction mode")
POOL_SIZE = 2  # server connections per database: fewer than the clients of one test

_proc: subprocess.Popen | None = None
_root: Path | None = None
_port: int | None = None


def executable() -> str | None:
    """The pgbouncer program, or None where it is not installed."""
    found = shutil.which("pgbouncer")
    if found:
        return found
    return "/usr/sbin/pgbouncer" if os.access("/usr/sbin/pgbouncer", os.X_OK) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start() -> int:
    """Start the session's bouncer (once); its port. Raises RuntimeError if it cannot run."""
    global _proc, _root, _port
    if _proc is not None:
        return _port
    program = executable()
    if program is None:
        raise RuntimeError(MISSING)
    parts = urlsplit(pgserver.server_url())
    socket_dir = parse_qs(parts.query)["host"][0]
    _root = Path(tempfile.mkdtemp(prefix="reconciler-pgbouncer-"))
    _root.chmod(0o755)  # read by the bouncer's user
    (_root / "userlist.txt").write_text(f'"{parts.username}" ""\n')
    _port = _free_port()
    (_root / "pgbouncer.ini").write_text(f"""\
[databases]
* = host={socket_dir} port={parts.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {_port}
unix_socket_dir =
auth_type = trust
auth_file = {_root / "userlist.txt"}
admin_users = {parts.username}
pool_mode = transaction
default_pool_size = {POOL_SIZE}
""")
    command = [program, str(_root / "pgbouncer.ini")]
    if os.geteuid() == 0:  # "PgBouncer should not run as root"
        owner = pwd.getpwuid(os.stat(socket_dir).st_uid).pw_name
        if owner == "root":
            raise RuntimeError("PgBouncer refuses to run as root, and the test server's socket belongs to root")
        command[1:1] = ["-u", owner]
    log = (_root / "pgbouncer.log").open("w")
    _proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    _wait_listening()
    return _port


def _wait_listening(timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _proc.poll() is not None:
            text = (_root / "pgbouncer.log").read_text()
            stop()
            raise RuntimeError(f"pgbouncer exited at start: {text[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", _port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    stop()
    raise RuntimeError(f"pgbouncer did not listen on 127.0.0.1:{_port} within {timeout:.0f} s")


def fresh_database() -> str:
    """A new empty database on the session's server, as a URL through the bouncer."""
    port = start()
    direct = urlsplit(pgserver.fresh_database())
    return f"postgresql://{direct.username}@127.0.0.1:{port}{direct.path}"


def admin_url() -> str:
    """The bouncer's admin console (``SHOW CONFIG``, ``SHOW POOLS``)."""
    return f"postgresql://{urlsplit(pgserver.server_url()).username}@127.0.0.1:{start()}/pgbouncer"


def stop() -> None:
    global _proc, _root, _port
    if _proc is not None:
        _proc.terminate()
        try:
            _proc.wait(10)
        except subprocess.TimeoutExpired:
            _proc.kill()
            _proc.wait(10)
        _proc = None
    if _root is not None:
        shutil.rmtree(_root, ignore_errors=True)
        _root = None
    _port = None
