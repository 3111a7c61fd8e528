"""The SQLite state store (``state.store.Store``): what was rendered from which spec.
The only module that knows SQL.

One SQLite file (WAL mode) holds three tables:

- ``videos``: one row per address, the *latest attempt* (status, task id, the
  fingerprint and request it was rendered from) and the *published output* (file,
  sha256, size, which fingerprint and task it came from). During a replace the two
  differ, which is how the old output stays in the manifest until the new one lands.
- ``attempts``: the history of every paid call, written as an *intent* in its own
  transaction before the call, and updated the moment the answer arrives. A crash
  loses at most the call in flight, and that call is left as ``pending``, which the
  next lock holder turns into ``unknown`` (``recover``): the create may have been
  sent and paid for, so it is surfaced, never silently re-sent.
- ``cache``: the render cache's index (CONTRACT §11): a verified output kept under
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

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from reconciler.errors import StateError, StateWriteError
from reconciler.model import DesiredVideo, RecordedVideo, Status
from reconciler.state.lock import LockHolder, StateLock  # noqa: F401 - re-exported
from reconciler.state.store import INTERRUPTED_CREATE, served_from_cache
from reconciler.util import clock

if TYPE_CHECKING:  # sqlite_utils is imported only by writers: readers (plan, status) skip its ~40 ms
    import sqlite_utils

SCHEMA_VERSION = 4

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
_ATTEMPT_FIELDS_OF_VIDEO = (
    "fingerprint", "request", "spec_file", "labels", "prevent_destroy", "status", "task_id", "attempt",
    "error", "submitted_at", "finished_at", "video_url", "preview_image_url",
)


now = clock.iso_now  # the one clock (util/clock)


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
    """A shared state (CONTRACT §8) records which checkout downloaded each output, so a
    machine that lacks the file knows it is kept on another one, not lost."""
    db["videos"].add_column("output_place", str)


def _migrate_4(db: sqlite_utils.Database) -> None:
    """The render cache's index (CONTRACT §11): one row per cached render fingerprint;
    the bytes live in the outputs store (``state/render_cache``)."""
    db["cache"].create({"fingerprint": str, "provider": str, "task_id": str, "sha256": str, "bytes": int,
                        "video_url": str, "preview_image_url": str, "created_at": str, "used_at": str},
                       pk="fingerprint")


MIGRATIONS = {1: _migrate_1, 2: _migrate_2, 3: _migrate_3, 4: _migrate_4}  # version -> function that brings version-1 up to it


class StateStore:
    """Read and write the state DB at ``path``. Use ``open_readonly`` for readers."""

    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = path
        self.readonly = readonly
        self._mutex = threading.RLock()  # one connection, shared by the engine's state thread and readers
        self._conn: sqlite3.Connection | None = None  # every read goes through it
        self._db: sqlite_utils.Database | None = None  # writers only
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
        with self._tx(bump=False) as db:  # creating the schema changes no video
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
    def _tx(self, *, bump: bool = True) -> Iterator[sqlite_utils.Database]:
        """One write transaction. The generation is bumped only when rows changed, so
        opening a store, or a ``recover`` with nothing to recover, does not make a
        saved plan stale."""
        if self.readonly or self._db is None:
            raise StateError("internal: write on a read-only state")
        with self._mutex:
            conn = self._db.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    before = conn.total_changes
                    yield self._db
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
        return {row["address"]: _to_recorded(row, self.path) for row in rows}

    def get(self, address: str) -> RecordedVideo | None:
        if self._conn is None:
            return None
        rows = self._rows("SELECT * FROM videos WHERE address = ?", [address])
        return _to_recorded(rows[0], self.path) if rows else None

    def attempts(self, address: str | None = None) -> list[dict]:
        if self._conn is None or "attempts" not in self._tables():
            return []
        if address is None:
            return self._rows("SELECT * FROM attempts ORDER BY id")
        return self._rows("SELECT * FROM attempts WHERE address = ? ORDER BY id", [address])

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

    # -- writes (each its own transaction) ----------------------------------------

    def begin_attempt(self, desired: DesiredVideo, holder: str) -> int:
        """Write the intent *before* a paid create. Returns the attempt number."""
        with self._tx() as db:
            rows = db.execute_returning_dicts("SELECT * FROM videos WHERE address = ?", [desired.address])
            row = rows[0] if rows else None
            previous = json.dumps({k: row[k] for k in _ATTEMPT_FIELDS_OF_VIDEO}) if row else None
            prev = db.execute("SELECT MAX(attempt) FROM attempts WHERE address = ?", [desired.address]).fetchone()
            attempt = max(row["attempt"] or 0 if row else 0, prev[0] or 0) + 1
            fields = {
                "provider": desired.provider, "fingerprint": desired.fingerprint,
                "request": json.dumps(desired.request, ensure_ascii=False, sort_keys=True),
                "spec_file": desired.spec_file, "labels": json.dumps(desired.labels, sort_keys=True),
                "prevent_destroy": int(desired.prevent_destroy), "status": Status.PENDING.value,
                "task_id": None, "attempt": attempt, "error": None, "submitted_at": None,
                "finished_at": None, "video_url": None, "preview_image_url": None, "updated_at": now(),
            }
            if row:
                db["videos"].update(desired.address, fields)
            else:
                db["videos"].insert({"address": desired.address, "output_lost": 0, **fields})
            db["attempts"].insert({
                "address": desired.address, "attempt": attempt, "provider": desired.provider,
                "fingerprint": desired.fingerprint, "status": Status.PENDING.value,
                "holder": holder, "intent_at": now(), "previous": previous,
            })
            return attempt

    def attempt_submitted(self, address: str, attempt: int, task_id: str) -> None:
        """The create's answer arrived: the render exists and is paid for."""
        at = now()
        with self._tx() as db:
            self._set_attempt(db, address, attempt, status=Status.RENDERING.value, task_id=task_id, submitted_at=at)
            self._set_video_if_attempt(db, address, attempt, status=Status.RENDERING.value, task_id=task_id,
                                       submitted_at=at)

    def attempt_failed(self, address: str, attempt: int, error: str, *, status: Status = Status.FAILED) -> None:
        """A definite answer that no render was started (bad params, quota...), or
        (with ``status=UNKNOWN``) a create whose answer never arrived."""
        with self._tx() as db:
            self._set_attempt(db, address, attempt, status=status.value, error=error)
            self._set_video_if_attempt(db, address, attempt, status=status.value, error=error)

    def attempt_not_sent(self, address: str, attempt: int, error: str) -> None:
        """The create certainly never left this machine: forget the intent and put the
        video back as it was (a first attempt is removed again)."""
        with self._tx() as db:
            self._set_attempt(db, address, attempt, status="not_sent", error=error)
            row = db.execute("SELECT previous FROM attempts WHERE address = ? AND attempt = ?",
                             [address, attempt]).fetchone()
            previous = json.loads(row[0]) if row and row[0] else None
            if previous is None:
                db.execute("DELETE FROM videos WHERE address = ? AND attempt = ? AND output_file IS NULL",
                           [address, attempt])
                return
            self._set_video_if_attempt(db, address, attempt, **previous)

    def record_task(self, address: str, task_id: str, status: Status, *, error: str | None = None,
                    video_url: str | None = None, preview_image_url: str | None = None,
                    finished_at: str | None = None, downloading: bool = False,
                    download_prior: str | None = None) -> bool:
        """What a poll said about the video's current task. False if the task is no
        longer the video's current one (superseded): nothing is written then. With
        ``downloading``, the GET of its output starts next: which task, and the identity
        of the file at the output path now (``download_prior``, None if none), so a file
        renamed into place by a writer killed before ``record_output`` can be adopted."""
        with self._tx() as db:
            row = db.execute("SELECT task_id, attempt FROM videos WHERE address = ?", [address]).fetchone()
            if not row or row[0] != task_id:
                self._set_attempt_by_task(db, address, task_id, status=status.value, error=error)
                return False
            fields = {"status": status.value, "error": error, "updated_at": now()}
            for key, value in (("video_url", video_url), ("preview_image_url", preview_image_url),
                               ("finished_at", finished_at)):
                if value is not None:
                    fields[key] = value
            if downloading:
                fields.update(download_task_id=task_id, download_prior=download_prior)
            db["videos"].update(address, fields)
            self._set_attempt(db, address, row[1], status=status.value, error=error,
                              finished_at=finished_at if status is not Status.RENDERING else None)
            return True

    def record_output(self, address: str, task_id: str, file: str, sha256: str, size: int,
                      place: str | None = None) -> None:
        """The current task's output is downloaded and verified (by the checkout ``place``): publish it."""
        with self._tx() as db:
            row = db.execute("SELECT task_id, fingerprint FROM videos WHERE address = ?", [address]).fetchone()
            if not row or row[0] != task_id:
                raise StateError(f"internal: output of {address} task {task_id} is not the current task")
            db["videos"].update(address, {
                "status": Status.FINISHED.value, "error": None, "output_file": file, "output_sha256": sha256,
                "output_bytes": size, "output_fingerprint": row[1], "output_task_id": task_id,
                "output_lost": 0, "download_task_id": None, "download_prior": None, "output_place": place,
                "updated_at": now(),
            })
            if not db.execute("SELECT finished_at FROM videos WHERE address = ?", [address]).fetchone()[0]:
                db["videos"].update(address, {"finished_at": now()})

    def download_ended(self, address: str, task_id: str) -> None:
        """A download of ``task_id`` failed before any rename: nothing to adopt later."""
        with self._tx(bump=False) as db:  # bookkeeping only: a saved plan stays valid
            db.execute("UPDATE videos SET download_task_id = NULL, download_prior = NULL "
                       "WHERE address = ? AND download_task_id = ?", [address, task_id])

    def download_started(self, address: str) -> tuple[str, str | None] | None:
        """(task id, prior identity) of the last download begun and not recorded, if any."""
        rows = self._rows("SELECT download_task_id, download_prior FROM videos WHERE address = ?", [address])
        if not rows or not rows[0]["download_task_id"]:
            return None
        return rows[0]["download_task_id"], rows[0]["download_prior"]

    def render_output_lost(self, address: str, task_id: str, reason: str) -> None:
        """The vendor can no longer give the output of the current task ``task_id``. If
        an older render's output is still published (a replace), it stays published and
        the new render is recorded failed (the next plan renders it again); otherwise
        the output is marked lost."""
        with self._tx() as db:
            row = db.execute("SELECT task_id, attempt, output_file, output_task_id FROM videos WHERE address = ?",
                             [address]).fetchone()
            if not row or row[0] != task_id:
                return  # superseded meanwhile
            if row[2] and row[3] != task_id:
                db["videos"].update(address, {"status": Status.FAILED.value, "error": reason,
                                              "download_task_id": None, "download_prior": None, "updated_at": now()})
                self._set_attempt(db, address, row[1], status=Status.FAILED.value, error=reason)
                return
            db["videos"].update(address, {"output_lost": 1, "error": reason, "download_task_id": None,
                                          "download_prior": None, "updated_at": now()})

    def mark_output_lost(self, address: str, reason: str) -> None:
        with self._tx() as db:
            db["videos"].update(address, {"output_lost": 1, "error": reason, "updated_at": now()})

    def update_metadata(self, address: str, *, labels: dict[str, str], prevent_destroy: bool, spec_file: str) -> None:
        with self._tx() as db:
            db["videos"].update(address, {
                "labels": json.dumps(labels, sort_keys=True), "prevent_destroy": int(prevent_destroy),
                "spec_file": spec_file, "updated_at": now(),
            })

    def record_superseded(self, address: str, task_id: str, outcome: str) -> None:
        """An old task left behind by a replace or delete: ``cancelled`` or ``abandoned``."""
        with self._tx() as db:
            self._set_attempt_by_task(db, address, task_id, outcome=outcome)

    def remove(self, address: str) -> None:
        """Forget a deleted video (its attempt history stays)."""
        with self._tx() as db:
            db.execute("DELETE FROM videos WHERE address = ?", [address])
            db.execute("UPDATE attempts SET outcome = COALESCE(outcome, 'deleted') WHERE address = ?", [address])

    def recover(self) -> list[str]:
        """Turn intents left ``pending`` by a dead writer into ``unknown``. Call only
        while holding the lock (so no live writer owns them). Returns the addresses."""
        with self._tx() as db:
            rows = db.execute("SELECT address, attempt FROM attempts WHERE status = 'pending'").fetchall()
            message = INTERRUPTED_CREATE
            for address, attempt in rows:
                self._set_attempt(db, address, attempt, status=Status.UNKNOWN.value, error=message)
                self._set_video_if_attempt(db, address, attempt, status=Status.UNKNOWN.value, error=message)
            return [r[0] for r in rows]

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
        with self._tx(bump=False) as db:
            db["videos"].insert_all(data["videos"])
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

    def cached_fingerprints(self) -> frozenset[str]:
        """The fingerprints the cache holds: all a plan needs (one column, no row dicts)."""
        if self._conn is None or "cache" not in self._tables():
            return frozenset()
        with self._mutex:
            return frozenset(r[0] for r in self._conn.execute("SELECT fingerprint FROM cache"))

    def cache_put(self, fingerprint: str, *, provider: str, task_id: str | None, sha256: str, size: int,
                  video_url: str | None = None, preview_image_url: str | None = None) -> None:
        """Index a verified output under its fingerprint (replacing an older entry)."""
        at = now()
        with self._tx(bump=False) as db:  # the cache is not the state a saved plan was made from
            db["cache"].upsert({"fingerprint": fingerprint, "provider": provider, "task_id": task_id,
                                "sha256": sha256, "bytes": size, "video_url": video_url,
                                "preview_image_url": preview_image_url, "created_at": at, "used_at": at},
                               pk="fingerprint")

    def cache_used(self, fingerprint: str) -> None:
        with self._tx(bump=False) as db:
            db.execute("UPDATE cache SET used_at = ? WHERE fingerprint = ?", [now(), fingerprint])

    def cache_drop(self, fingerprint: str) -> None:
        with self._tx(bump=False) as db:
            db.execute("DELETE FROM cache WHERE fingerprint = ?", [fingerprint])

    def publish_cached(self, desired: DesiredVideo, entry: dict, file: str, place: str | None = None) -> None:
        """``desired`` is served from the render cache: its output ``file`` is in place,
        recorded as finished with the cached render's task, no attempt (nothing paid)."""
        at = now()
        with self._tx() as db:
            exists = db.execute("SELECT 1 FROM videos WHERE address = ?", [desired.address]).fetchone()
            prev = db.execute("SELECT MAX(attempt) FROM attempts WHERE address = ?", [desired.address]).fetchone()
            fields = served_from_cache(desired, entry, file, place, attempt=prev[0] or 0, at=at)
            if exists:
                db["videos"].update(desired.address, fields)
            else:
                db["videos"].insert({"address": desired.address, **fields})
            db.execute("UPDATE cache SET used_at = ? WHERE fingerprint = ?", [at, desired.fingerprint])

    # -- helpers ------------------------------------------------------------------

    @staticmethod
    def _set_attempt(db, address: str, attempt: int, **fields) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        db.execute(f"UPDATE attempts SET {sets} WHERE address = ? AND attempt = ?", [*fields.values(), address, attempt])

    @staticmethod
    def _set_attempt_by_task(db, address: str, task_id: str, **fields) -> None:
        sets = ", ".join(f"{k} = ?" for k in fields)
        db.execute(f"UPDATE attempts SET {sets} WHERE address = ? AND task_id = ?", [*fields.values(), address, task_id])

    @staticmethod
    def _set_video_if_attempt(db, address: str, attempt: int, /, **fields) -> None:  # "/": fields may hold "attempt"
        fields["updated_at"] = now()
        sets = ", ".join(f"{k} = ?" for k in fields)
        db.execute(f"UPDATE videos SET {sets} WHERE address = ? AND attempt = ?", [*fields.values(), address, attempt])


_REQUIRED_TABLES = {"meta", "videos", "attempts"}
_TEXT = (str, type(None))
# Columns of a video row and the Python types a sound row holds in them (None: NULL).
_ROW_TYPES = {
    "address": (str,), "provider": (str,), "fingerprint": (str,), "status": (str,), "spec_file": _TEXT,
    "request": _TEXT, "labels": _TEXT, "prevent_destroy": (int, type(None)), "task_id": _TEXT,
    "attempt": (int, type(None)), "error": _TEXT, "submitted_at": _TEXT, "finished_at": _TEXT,
    "video_url": _TEXT, "preview_image_url": _TEXT, "output_file": _TEXT, "output_sha256": _TEXT,
    "output_bytes": (int, type(None)), "output_fingerprint": _TEXT, "output_task_id": _TEXT,
    "output_lost": (int, type(None)),
}


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
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
        leftover.unlink(missing_ok=True)
    fresh = StateStore.__new__(StateStore)
    fresh.path, fresh.readonly, fresh._mutex, fresh._conn, fresh._db = tmp, False, threading.RLock(), None, None
    try:
        fresh._connect()
    finally:
        fresh.close()
    os.replace(tmp, path)
    atomic.fsync_dir(path.parent)


def _unreadable(path: Path, exc: Exception) -> StateError:
    return StateError(f"{path}: cannot read the state database ({exc}); restore it from a backup")


def _meta_int(path: Path, key: str, value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StateError(f"{path}: the state is damaged: meta {key} is {value!r}, not a number; "
                         "restore it from a backup") from None


def _to_recorded(row: dict, path: Path | str) -> RecordedVideo:
    """A video row as data; StateError naming the row and column for a value edited into
    something that does not parse (never a traceback, never a silent default)."""
    address = row.get("address")

    def bad(column: str, why: str) -> StateError:
        return StateError(f"{path}: the state is damaged: video {address!r}, column {column}: {why}; "
                          "fix the row or restore the state from a backup (nothing was changed)")

    for column, types in _ROW_TYPES.items():
        if not isinstance(row.get(column), types) or isinstance(row.get(column), bool):
            raise bad(column, f"{row.get(column)!r} is not {'a number' if int in types else 'text'}")
    try:
        status = Status(row["status"])
    except ValueError:
        raise bad("status", f"{row['status']!r} is not one of {', '.join(s.value for s in Status)}") from None
    parsed = {}
    for column, kind in (("request", dict), ("labels", dict)):
        try:
            value = json.loads(row[column]) if row[column] else None
        except ValueError:
            raise bad(column, "not valid JSON") from None
        if value is not None and not isinstance(value, kind):
            raise bad(column, "not a JSON object")
        parsed[column] = value
    return RecordedVideo(
        address=row["address"], provider=row["provider"], fingerprint=row["fingerprint"],
        status=status, spec_file=row["spec_file"] or "",
        request=parsed["request"], labels=parsed["labels"] or {},
        prevent_destroy=bool(row["prevent_destroy"]), task_id=row["task_id"], attempt=row["attempt"] or 0,
        error=row["error"], submitted_at=row["submitted_at"], finished_at=row["finished_at"],
        video_url=row["video_url"], preview_image_url=row["preview_image_url"], output_file=row["output_file"],
        output_sha256=row["output_sha256"], output_bytes=row["output_bytes"],
        output_fingerprint=row["output_fingerprint"], output_task_id=row["output_task_id"],
        output_lost=bool(row["output_lost"]), output_place=row.get("output_place"),
    )
