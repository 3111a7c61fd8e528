"""The SQLite state store (``state.store.Store``): what was rendered from which spec.
Its writes are ``state/rows.py``'s (shared with PostgreSQL); here is what is SQLite's:
the file, the connection, the transaction, the schema and the reads.

One SQLite file (WAL mode) holds three tables:

- ``videos``: one row per address, the *latest attempt* (status, task id, the
  fingerprint and request it was rendered from) and the *published output* (file,
  sha256, size, which fingerprint and task it came from). During a replace the two
  differ, which is how the old output stays in the manifest until the new one lands.
- ``attempts``: the history of every paid call (each with the request it sent), written
  as an *intent* in its own transaction before the call, and updated the moment the
  answer arrives. A crash
  loses at most the call in flight, and that call is left as ``pending``, which the
  next lock holder turns into ``unknown`` (``recover``): the create may have been
  sent and paid for, so it is surfaced, never silently re-sent.
- ``cache``: the render cache's index (docs/cache.md): a verified output kept under
  its render fingerprint (file in ``outputs/.cache/``), also after no video uses it.
- ``meta``: schema version and a generation counter bumped by every write (saved
  plans compare it to refuse a plan made against an older state).

Readers (plan, status, validate) never create or modify the file: a missing state
reads as empty. Every write is one short ``BEGIN IMMEDIATE`` transaction.

A state that exists but is not whole never reads as empty, since an empty state
means "render everything again": a zero-byte file, a folder, a file that is not
SQLite, a truncated one, a reconciler schema with a table missing, or a row edited
by hand into a value that does not parse (a status word that does not exist, text
where a number belongs) are each a ``StateError`` naming the file (and the row and
column), before anything is written. A writer creates a new state whole: built
under a temporary name and renamed into place, so a crash never leaves a
zero-byte ``reconciler.db`` behind.
Mutual exclusion between writers (apply, refresh, watch) is ``state.lock.StateLock``
(re-exported here); ``state.store.SqliteBackend`` pairs the two.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from reconciler.errors import StateError, StateWriteError
from reconciler.model import RecordedVideo
from reconciler.state.lock import LockHolder, StateLock  # noqa: F401 - re-exported
from reconciler.state.rows import (
    RENDER_HISTORY,
    SCHEMA_VERSION,
    RowStore,
    TxCursor,
    migration_interrupted,
    sent_requests,
    target_full,
    to_recorded,
)
from reconciler.util.crashpoint import crash_point

if TYPE_CHECKING:  # sqlite_utils is imported only by writers: readers (plan, status) skip its ~40 ms
    import sqlite_utils


_VIDEO_COLUMNS = {
    "address": str, "provider": str, "fingerprint": str, "request": str, "spec_file": str,
    "labels": str, "prevent_destroy": int, "status": str, "task_id": str, "attempt": int,
    "error": str, "submitted_at": str, "finished_at": str, "video_url": str,
    "preview_image_url": str, "output_file": str, "output_sha256": str, "output_bytes": int,
    "output_fingerprint": str, "output_task_id": str, "output_lost": int, "updated_at": str,
}
_ATTEMPT_COLUMNS = {
    "id": int, "address": str, "attempt": int, "provider": str, "fingerprint": str,
    "task_id": str, "status": str, "error": str, "holder": str, "intent_at": str,
    "submitted_at": str, "finished_at": str, "outcome": str,
    "previous": str,  # JSON of the video's attempt columns before this intent (to undo a not-sent create)
}


def _migrate_1(db: sqlite_utils.Database) -> None:
    db["videos"].create(_VIDEO_COLUMNS, pk="address", not_null={"provider", "fingerprint", "status"})
    db["attempts"].create(_ATTEMPT_COLUMNS, pk="id")
    db["attempts"].create_index(["address", "attempt"], unique=True)
    db["attempts"].create_index(["task_id"])


def _migrate_2(db: sqlite_utils.Database) -> None:
    """Downloads record their start (which task, what ``dest`` was before the GET), so a
    file renamed into place by a writer killed before its record is adopted, not lost."""
    db["videos"].add_column("download_task_id", str)
    db["videos"].add_column("download_prior", str)


def _migrate_3(db: sqlite_utils.Database) -> None:
    """A shared state (docs/team.md) records which checkout downloaded each output, so a
    machine that lacks the file knows it is kept on another one, not lost."""
    db["videos"].add_column("output_place", str)


def _migrate_4(db: sqlite_utils.Database) -> None:
    """The render cache's index (docs/cache.md): one row per cached render fingerprint;
    the bytes live in the outputs store (``outputs/render_cache``)."""
    db["cache"].create({"fingerprint": str, "provider": str, "task_id": str, "sha256": str, "bytes": int,
                        "video_url": str, "preview_image_url": str, "created_at": str, "used_at": str},
                       pk="fingerprint")


def _migrate_5(db: sqlite_utils.Database) -> None:
    """Each attempt records the request it sent, so what a render cost (docs/budget.md:
    per render and per 1,000 characters of its script) is read from the attempt itself,
    not from a video row a delete or an edit later changes; older rows are filled in
    from what the state knows now (``rows.sent_requests``)."""
    db["attempts"].add_column("request", str)
    attempts = [tuple(r) for r in db.execute("SELECT id, fingerprint, previous FROM attempts").fetchall()]
    videos = [tuple(r) for r in db.execute("SELECT fingerprint, request FROM videos").fetchall()]
    for id_, request in sent_requests(attempts, videos).items():
        db.execute("UPDATE attempts SET request = ? WHERE id = ?", [request, id_])


def _migrate_6(db: sqlite_utils.Database) -> None:
    """Every render records the vendor account it was created with (docs/team.md), so a
    checkout running as another account never follows it; older rows have none."""
    db["videos"].add_column("account", str)
    db["attempts"].add_column("account", str)


def _migrate_7(db: sqlite_utils.Database) -> None:
    """A cache entry records where its bytes are (a bucket, or one checkout's outputs
    folder): a checkout that cannot read them does not count it free. Older entries
    read NULL: counted only where their file is found (``render_cache.unservable``)."""
    db["cache"].add_column("location", str)


def _migrate_8(db: sqlite_utils.Database) -> None:
    """A published output records what its full decode measured (docs/formats.md): its
    length in seconds and frame size; so does a cache entry, so a cache hit publishes
    them without decoding again. Older rows read NULL (not measured)."""
    db["videos"].add_column("output_duration_s", float)
    db["videos"].add_column("output_width", int)
    db["videos"].add_column("output_height", int)
    db["cache"].add_column("duration_s", float)
    db["cache"].add_column("width", int)
    db["cache"].add_column("height", int)


MIGRATIONS = {1: _migrate_1, 2: _migrate_2, 3: _migrate_3, 4: _migrate_4, 5: _migrate_5,
              6: _migrate_6, 7: _migrate_7, 8: _migrate_8}  # version -> function that brings version-1 up to it


class StateStore(RowStore):
    """Read and write the state DB at ``path``. Use ``open_readonly`` for readers. The
    writes are ``state.rows.RowStore``'s; here: the file, the connection, the
    ``BEGIN IMMEDIATE`` transaction, the schema and the reads."""

    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = path
        self.readonly = readonly
        self._mutex = threading.RLock()  # one connection, shared by the engine's state thread and readers
        self._conn: sqlite3.Connection | None = None  # every read goes through it
        self._db: sqlite_utils.Database | None = None  # writers only
        _refuse_partial_copy(path)
        if not _exists(path):
            if readonly:
                return  # a missing state reads as empty; nothing is created
            _create(path)
        _check_file(path)
        try:
            self._connect()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise _unreadable(path, exc) from None
        except BaseException:
            self.close()
            raise

    def _connect(self, *, immutable: bool = False) -> None:
        path, readonly = self.path, self.readonly
        uri = str(path)
        if readonly:  # as_uri: "#", "?" in paths
            uri = path.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
        conn = sqlite3.connect(uri, uri=readonly, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._conn = conn
        conn.row_factory = sqlite3.Row
        if readonly:
            try:
                conn.execute("PRAGMA busy_timeout = 5000")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the first read opens the WAL
            except sqlite3.OperationalError:
                if immutable or not _readonly_folder_without_wal(path):
                    raise
                # a read-only state folder (chmod, a read-only mount): SQLite cannot create the
                # WAL index beside the file, but with no WAL file every committed row is in the
                # file itself and no writer can be running, so reading it as immutable is exact
                self.close()
                self._connect(immutable=True)
                return
            self._check_version()
            return
        conn.execute("PRAGMA busy_timeout = 5000")
        import sqlite_utils

        self._db = sqlite_utils.Database(conn)
        self._check_version(writer=True)  # before the first write: a broken state is left as it is
        self._db.enable_wal()
        conn.execute("PRAGMA synchronous = FULL")
        self._migrate()

    @classmethod
    def open_readonly(cls, path: Path) -> "StateStore":
        return cls(path, readonly=True)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = self._db = None

    # -- schema ---------------------------------------------------------------

    def _version(self) -> int:
        if "meta" not in self._tables():
            return 0
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return _meta_int(self.path, "schema_version", row[0]) if row else 0

    def _check_version(self, *, writer: bool = False) -> None:
        """Refuse a state this code cannot read whole: too new, not ours, tables missing,
        or pages SQLite finds damaged (``quick_check``: one pass over the file)."""
        version, tables = self._version(), self._tables()
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{self.path}: written by a newer reconciler (schema {version}, this one knows {SCHEMA_VERSION}); upgrade"
            )
        if version == 0 and tables - {"meta"}:
            raise StateError(f"{self.path}: not a reconciler state (it holds the tables {', '.join(sorted(tables))}); "
                             "point `state:` in reconciler.yaml at the right file, or restore it from a backup")
        if 0 < version < SCHEMA_VERSION and not writer:
            raise StateError(f"{self.path}: schema {version} is old; run `reconciler refresh` to upgrade it")
        missing = sorted(_REQUIRED_TABLES - tables) if version == SCHEMA_VERSION else []
        if missing:
            raise StateError(f"{self.path}: the state is damaged: table {', '.join(missing)} is missing; "
                             "restore it from a backup (nothing was changed)")
        if version:
            self.generation()  # a number, or a StateError naming it
        problem = self._conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if problem != "ok":
            raise StateError(f"{self.path}: the state is damaged ({problem}); restore it from a backup")

    def _migrate(self) -> None:
        assert self._db is not None
        with self._tx(bump=False) as cur:  # creating the schema changes no video
            db = cur.db
            if "meta" not in db.table_names():
                db["meta"].create({"key": str, "value": str}, pk="key")
            version = self._version()
            if version > SCHEMA_VERSION:
                raise StateError(f"{self.path}: written by a newer reconciler (schema {version}); upgrade")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](db)
            if version != SCHEMA_VERSION:
                db["meta"].upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")
                if version == 0:  # a new state starts counting
                    db["meta"].upsert({"key": "generation", "value": "0"}, pk="key")
                else:  # an upgrade keeps counting: a plan saved before it is stale, never fresh again
                    db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    @contextmanager
    def _tx(self, *, bump: bool = True, margin: float = 0.0) -> Iterator[_Cursor]:
        """One write transaction. The generation is bumped only when rows changed, so
        opening a store, or a ``recover`` with nothing to recover, does not make a
        saved plan stale. (``margin``: no lease here; the file lock is held until the
        writer ends.)"""
        if self.readonly or self._db is None:
            raise StateError("internal: write on a read-only state")
        with self._mutex:
            conn = self._db.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    before = conn.total_changes
                    yield _Cursor(self._db)
                    if bump and conn.total_changes != before:
                        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # SQLite rolls back by itself on some errors (disk full)
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:  # disk full, read-only, I/O error, locked
                raise StateWriteError(
                    f"{self.path}: could not write the state database ({exc}). Free disk space or fix the "
                    f"permissions of {self.path.parent}, then run `reconciler refresh`; everything recorded "
                    "before this is kept") from None

    # -- reads ------------------------------------------------------------------

    def generation(self) -> int:
        if self._conn is None:
            return 0
        rows = self._rows("SELECT value FROM meta WHERE key = 'generation'")
        return _meta_int(self.path, "generation", rows[0]["value"]) if rows else 0

    def schema_version(self) -> int:
        if self._conn is None:
            return 0
        with self._mutex:
            return self._version()

    def recorded(self) -> dict[str, RecordedVideo]:
        if self._conn is None or "videos" not in self._tables():
            return {}
        rows = self._rows("SELECT * FROM videos ORDER BY address")
        return {row["address"]: to_recorded(row, self.path) for row in rows}

    def get(self, address: str) -> RecordedVideo | None:
        if self._conn is None:
            return None
        rows = self._rows("SELECT * FROM videos WHERE address = ?", [address])
        return to_recorded(rows[0], self.path) if rows else None

    def attempts(self, address: str | None = None) -> list[dict]:
        if self._conn is None or "attempts" not in self._tables():
            return []
        if address is None:
            return self._rows("SELECT * FROM attempts ORDER BY id")
        return self._rows("SELECT * FROM attempts WHERE address = ? ORDER BY id", [address])

    def render_history(self, limit: int = 512) -> list[dict]:
        if self._conn is None or "attempts" not in self._tables():
            return []
        return self._rows(RENDER_HISTORY.format(limit=limit))[::-1]

    def _rows(self, sql: str, params=()) -> list[dict]:
        with self._mutex:  # never read another thread's transaction half-way
            try:
                return [dict(row) for row in self._conn.execute(sql, params)]
            except sqlite3.DatabaseError as exc:  # a page damaged after the open, a column gone
                raise _unreadable(self.path, exc) from None

    def _tables(self) -> set[str]:
        with self._mutex:
            try:
                return {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            except sqlite3.DatabaseError as exc:
                raise _unreadable(self.path, exc) from None

    def download_started(self, address: str) -> tuple[str, str | None] | None:
        """(task id, prior identity) of the last download begun and not recorded, if any."""
        rows = self._rows("SELECT download_task_id, download_prior FROM videos WHERE address = ?", [address])
        if not rows or not rows[0]["download_task_id"]:
            return None
        return rows[0]["download_task_id"], rows[0]["download_prior"]

    def meta(self, key: str) -> str | None:
        """A settings row of ``meta`` (e.g. ``outputs_location``), None when unset."""
        if self._conn is None:
            return None
        rows = self._rows("SELECT value FROM meta WHERE key = ?", [key]) if "meta" in self._tables() else []
        return rows[0]["value"] if rows else None

    # -- whole-state copy (``state migrate``) ----------------------------------------

    def dump(self) -> dict:
        """Every row of the state, for a copy to another backend."""
        if self._conn is None or "videos" not in self._tables():
            return {"meta": [], "videos": [], "attempts": [], "cache": []}
        return {"meta": self._rows("SELECT * FROM meta WHERE key <> 'schema_version' ORDER BY key"),
                "videos": self._rows("SELECT * FROM videos ORDER BY address"),
                "attempts": self._rows("SELECT * FROM attempts ORDER BY id"),
                "cache": self._rows("SELECT * FROM cache ORDER BY fingerprint") if "cache" in self._tables() else []}

    def load(self, data: dict) -> None:
        """Write a whole state dumped from another store into this empty one, in one transaction."""
        with self._tx(bump=False) as cur:
            db = cur.db
            db["videos"].insert_all(data["videos"])
            crash_point("mid_migrate")
            db["attempts"].insert_all(data["attempts"])
            db["cache"].insert_all(data.get("cache", []))
            for row in data["meta"]:
                db["meta"].upsert(row, pk="key")

    # -- the render cache's index ---------------------------------------------------

    def cache_index(self) -> dict[str, dict]:
        """Every cache entry by fingerprint (keys: fingerprint, provider, task_id, sha256,
        bytes, video_url, preview_image_url, created_at, used_at)."""
        if self._conn is None or "cache" not in self._tables():
            return {}
        return {row["fingerprint"]: row for row in self._rows("SELECT * FROM cache")}

    def cached_fingerprints(self, location: str | None = None) -> frozenset[str]:
        """The fingerprints the cache holds (with ``location``: those whose bytes are
        there, or not recorded): all a plan needs (one column, no row dicts)."""
        if location is not None:
            if self._conn is None or "cache" not in self._tables():
                return frozenset()
            with self._mutex:
                return frozenset(r[0] for r in self._conn.execute(
                    "SELECT fingerprint FROM cache WHERE location IS NULL OR location = ?", [location]))
        if self._conn is None or "cache" not in self._tables():
            return frozenset()
        with self._mutex:
            return frozenset(r[0] for r in self._conn.execute("SELECT fingerprint FROM cache"))


class _Cursor(TxCursor):
    """A write transaction on the SQLite connection (``?`` placeholders are SQLite's own);
    ``db`` is the sqlite_utils view of it, for the schema and bulk loads."""

    def __init__(self, db: sqlite_utils.Database):
        self.db, self._conn = db, db.conn

    def execute(self, sql: str, params=()) -> None:
        self._conn.execute(sql, params)

    def one(self, sql: str, params=()):
        return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, params=()) -> list:
        return self._conn.execute(sql, params).fetchall()

    def one_dict(self, sql: str, params=()) -> dict | None:
        cur = self._conn.execute(sql, params)
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None


_REQUIRED_TABLES = {"meta", "videos", "attempts"}


def _readonly_folder_without_wal(path: Path) -> bool:
    """The state folder cannot be written and no WAL file (with rows not yet in the main
    file) lies beside the state."""
    try:
        wal = os.stat(f"{path}-wal").st_size
    except FileNotFoundError:
        wal = 0
    except OSError:
        return False
    return wal == 0 and not os.access(path.parent, os.W_OK)  # EROFS says no to root as well


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _check_file(path: Path) -> None:
    """Refuse what cannot be a state before SQLite opens it (it would read a zero-byte
    file as an empty database, and a writer would then fill it with an empty schema)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise StateError(f"{path}: cannot open the state: {exc.strerror or exc}") from None
    if not os.path.isfile(path):
        raise StateError(f"{path}: the state path is not a file (a folder?); point `state:` in "
                         "reconciler.yaml at the state database, or move what is there")
    if st.st_size == 0:
        raise StateError(f"{path}: the state database is empty (0 bytes), so what was rendered is unknown; "
                         "restore it from a backup. Nothing was changed. (Only if no video was ever rendered "
                         "with it, delete the file to start a new state.)")


def _create(path: Path) -> None:
    """A new, empty state, created whole: schema built under a temporary name, then renamed."""
    from reconciler.util import atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    _remove_database(tmp)
    fresh = StateStore.__new__(StateStore)
    fresh.path, fresh.readonly, fresh._mutex, fresh._conn, fresh._db = tmp, False, threading.RLock(), None, None
    try:
        fresh._connect()
    finally:
        fresh.close()
    os.replace(tmp, path)
    atomic.fsync_dir(path.parent)


def receive(path: Path, data: dict, check) -> None:
    """``state migrate`` into the file ``path`` (its lock held): the copy is built whole
    under ``.NAME.migrating`` beside it, ``check``-ed, and only then renamed into place,
    so a kill half-way leaves ``path`` as it was (none, or an empty state) beside the
    partial copy, which makes every command refuse ``path`` (``_refuse_partial_copy``)
    and which a rerun starts over."""
    from reconciler.util import atomic

    partial = _partial_copy(path)
    _remove_database(partial)  # a rerun starts over
    if _exists(path):
        existing = StateStore(path, readonly=True)
        try:  # an empty state (no row at all) is as good as none: replaced
            if existing.schema_version() and (existing.recorded() or existing.attempts() or existing.cache_index()):
                raise target_full(path)
        finally:
            existing.close()
    store = StateStore(partial)
    try:
        store.load(data)
        copied = store.dump()
    finally:
        store.close()
    try:
        check(copied)
    except BaseException:
        _remove_database(partial)
        raise
    for stale in (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        stale.unlink(missing_ok=True)  # an empty state's: they must not be read as the copy's
    os.replace(partial, path)
    atomic.fsync_dir(path.parent)


def _partial_copy(path: Path) -> Path:
    return path.with_name(f".{path.name}.migrating")


def _refuse_partial_copy(path: Path) -> None:
    """A state beside the partial copy of a killed ``state migrate`` is not what it seems
    (missing, or an empty one the copy was to replace): refused until the rerun."""
    partial = _partial_copy(path)
    if partial.exists():
        raise migration_interrupted(path, f"its partial copy is {partial.name}")


def _remove_database(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        leftover.unlink(missing_ok=True)


def _unreadable(path: Path, exc: Exception) -> StateError:
    return StateError(f"{path}: cannot read the state database ({exc}); restore it from a backup")


def _meta_int(path: Path, key: str, value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StateError(f"{path}: the state is damaged: meta {key} is {value!r}, not a number; "
                         "restore it from a backup") from None


