"""The PostgreSQL state store and its writer lease (CONTRACT §8: a team's shared state).

Why a module of its own: a team (two teammates, a CI runner and a laptop) must share
one state, or each machine pays for every render. The store keeps exactly what the
SQLite store keeps (``state/sqlite.py``: videos, attempts, meta with the schema version
and generation), with the same behaviour per operation, in the project's own schema
(``state_schema``, default ``reconciler``), created on first write.

One writer across machines, without stuck locks: Terraform's pg backend (session
advisory locks plus a global lock) is known for stuck locks, collisions between
schemas and breakage behind PgBouncer in transaction mode. Here the writer role is a
*lease row* in the schema (holder host, pid, command, since, heartbeat, expiry), taken
with ``SELECT ... FOR UPDATE`` + ``UPDATE`` in one short transaction and renewed by a
heartbeat thread in short transactions, so it survives a pooler in transaction mode
and needs no global lock. A holder that dies stops renewing: its lease expires within
``LEASE_SECONDS`` (≤ 30 s) and the next writer takes it over. A writer whose lease has
lapsed (partition, long pause) can no longer write: every write transaction checks the
lease, and an intent (written before each paid create) demands that at least half the
lease remains, so the create leaves well before anyone else can take over.

Nothing lives in a session (``scoped``): each read and write is one transaction that
sets its own search path and statement timeout, with no startup ``options`` (PgBouncer
refuses them) and no server-side prepared statement, so any server connection a
pooler hands a transaction will do (``tests/pgbouncer.py`` runs the e2e through one).

psycopg (3) is imported only here, and only when a state is PostgreSQL.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
from contextlib import contextmanager
from typing import Iterator

from reconciler.errors import LockHeldError, StateError, StateUnreachableError
from reconciler.model import DesiredVideo, RecordedVideo, Status
from reconciler.state.lock import LockHolder
from reconciler.state.sqlite import SCHEMA_VERSION, _to_recorded
from reconciler.state.store import INTERRUPTED_CREATE, served_from_cache
from reconciler.util import clock

LEASE_VAR = "RECONCILER_TEST_LEASE_SECONDS"  # tests only: a shorter lease than the default
LEASE_SECONDS = 15.0  # a dead holder loses the role within this (CONTRACT §8: within 30 s)
CONNECT_TIMEOUT = 10  # seconds: every network call has a timeout
STATEMENT_TIMEOUT_MS = 30_000

now = clock.iso_now

_HELD: dict[tuple[str, str], str] = {}  # (url, schema) -> token of the lease this process holds

_VIDEO_DDL = """
    address text PRIMARY KEY, provider text NOT NULL, fingerprint text NOT NULL, request text, spec_file text,
    labels text, prevent_destroy integer, status text NOT NULL, task_id text, attempt integer, error text,
    submitted_at text, finished_at text, video_url text, preview_image_url text, output_file text,
    output_sha256 text, output_bytes bigint, output_fingerprint text, output_task_id text,
    output_lost integer, updated_at text"""
_ATTEMPT_DDL = """
    id bigserial PRIMARY KEY, address text, attempt integer, provider text, fingerprint text, task_id text,
    status text, error text, holder text, intent_at text, submitted_at text, finished_at text, outcome text,
    previous text"""
_ATTEMPT_FIELDS_OF_VIDEO = (
    "fingerprint", "request", "spec_file", "labels", "prevent_destroy", "status", "task_id", "attempt",
    "error", "submitted_at", "finished_at", "video_url", "preview_image_url",
)


def _migrate_1(cur) -> None:
    cur.execute(f"CREATE TABLE videos ({_VIDEO_DDL})")
    cur.execute(f"CREATE TABLE attempts ({_ATTEMPT_DDL})")
    cur.execute("CREATE UNIQUE INDEX attempts_address_attempt ON attempts (address, attempt)")
    cur.execute("CREATE INDEX attempts_task_id ON attempts (task_id)")


def _migrate_2(cur) -> None:
    cur.execute("ALTER TABLE videos ADD COLUMN download_task_id text, ADD COLUMN download_prior text")


def _migrate_3(cur) -> None:
    cur.execute("ALTER TABLE videos ADD COLUMN output_place text")


def _migrate_4(cur) -> None:
    cur.execute("CREATE TABLE cache (fingerprint text PRIMARY KEY, provider text, task_id text, sha256 text, "
                "bytes bigint, video_url text, preview_image_url text, created_at text, used_at text)")


MIGRATIONS = {1: _migrate_1, 2: _migrate_2, 3: _migrate_3, 4: _migrate_4}  # the same versions as the SQLite store


def lease_seconds() -> float:
    raw = os.environ.get(LEASE_VAR)
    try:
        return min(30.0, max(1.0, float(raw))) if raw else LEASE_SECONDS
    except ValueError:
        return LEASE_SECONDS


def connect(url: str):
    """A connection in autocommit (every use is one explicit transaction: ``scoped``),
    with a timeout on connect. No server-side prepared statements
    (``prepare_threshold=None``), no startup ``options`` (PgBouncer refuses them:
    "unsupported startup parameter") and no session state at all: a pooler in
    transaction mode may hand each transaction to another server connection."""
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, prepare_threshold=None)
    except psycopg.OperationalError as exc:  # refused, timed out, name unknown, authentication
        raise StateUnreachableError(f"cannot reach the PostgreSQL state {redacted(url)}: {_first_line(exc)}") from None
    except psycopg.Error as exc:
        raise StateError(f"cannot reach the PostgreSQL state {redacted(url)}: {_first_line(exc)}") from None
    return conn


def redacted(url: str) -> str:
    from reconciler.state.store import _redacted

    return _redacted(url)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@contextmanager
def scoped(conn, schema: str) -> Iterator:
    """One transaction on ``conn`` with the project's schema on the search path and the
    statement timeout, both set for this transaction only (``set_config(..., true)``),
    so they hold on whichever server connection a pooler in transaction mode gives it."""
    with conn.transaction():
        conn.execute("SELECT set_config('search_path', %s, true), set_config('statement_timeout', %s, true)",
                     [f'"{schema}"', str(STATEMENT_TIMEOUT_MS)])
        yield conn


@contextmanager
def reachable(where: str) -> Iterator[None]:
    """A connection lost or refused mid-run (network cut, server restart, a pooler's
    connection dropped, a statement timeout) is a local failure, like a full disk under
    SQLite: ``StateWriteError``, so a run stops taking new work and exits 1 saying what
    to do, instead of a traceback. A write whose COMMIT got no answer may have landed:
    an intent then reads as ``unknown`` on recovery, never as a create to send again."""
    import psycopg

    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise StateUnreachableError(
            f"{where}: lost the connection to the state database ({_first_line(exc)}). Check the database "
            "server and the network, then run `reconciler refresh`; everything recorded before this is kept") from None


def _schema_exists(conn, schema: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone() is not None


def _table_exists(conn, schema: str, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{schema}.{table}"]).fetchone()[0]


def ensure_schema(conn, schema: str) -> None:
    """Create the schema, ``meta`` and the lease row if missing. A transaction-scoped
    advisory lock serialises two first users (it ends with the transaction, so it is
    safe behind a pooler in transaction mode); it never outlives this call."""
    if _table_exists(conn, schema, "lease"):
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"reconciler schema {schema}"])
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{schema}".meta (key text PRIMARY KEY, value text)')
        conn.execute(f'CREATE TABLE IF NOT EXISTS "{schema}".lease (name text PRIMARY KEY, token text, pid integer, '
                     f'host text, command text, since text, heartbeat timestamptz, expires_at timestamptz)')
        conn.execute(f"INSERT INTO \"{schema}\".lease (name) VALUES ('writer') ON CONFLICT (name) DO NOTHING")


class PostgresLease:
    """The writer role of one state (``state.store.WriterLock``), as a renewed lease row."""

    def __init__(self, url: str, schema: str):
        self.url, self.schema = url, schema
        self.taken_over: LockHolder | None = None
        self.seconds = lease_seconds()
        self._token: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = threading.Event()  # set when a renewal found the lease gone
        self.on_lost = None  # called (from the renewal thread) when it is

    def _where(self) -> str:
        return f"{redacted(self.url)} (schema {self.schema})"

    def acquire(self, command: str) -> PostgresLease:
        conn = connect(self.url)
        try:
            ensure_schema(conn, self.schema)
            token = secrets.token_hex(16)
            me = LockHolder(pid=os.getpid(), host=socket.gethostname(), command=command, since=now())
            with reachable(self._where()), scoped(conn, self.schema):
                row = conn.execute("SELECT token, pid, host, command, since, expires_at > now() FROM lease "
                                   "WHERE name = 'writer' FOR UPDATE").fetchone()
                holder = _holder(row)
                if holder is not None and row[5]:
                    raise LockHeldError(f"the state {self._where()} is locked by {holder.describe()}; "
                                        f"wait for it to finish or stop it")
                self.taken_over = holder  # a token still set but expired: its holder died
                conn.execute("UPDATE lease SET token = %s, pid = %s, host = %s, command = %s, since = %s, "
                             "heartbeat = now(), expires_at = now() + make_interval(secs => %s) "
                             "WHERE name = 'writer'", [token, me.pid, me.host, me.command, me.since, self.seconds])
        finally:
            conn.close()
        self._token = token
        _HELD[(self.url, self.schema)] = token
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name="state-lease", daemon=True)
        self._thread.start()
        return self

    def _renew_loop(self) -> None:
        """Renew every third of the lease, each renewal its own short transaction on a
        fresh connection if the last one broke. A renewal that finds the lease gone (it
        expired and another writer took it) sets ``lost``: the store then refuses writes."""
        conn = None
        while not self._stop.wait(self.seconds / 3):
            try:
                if conn is None or conn.closed:
                    conn = connect(self.url)
                with scoped(conn, self.schema):
                    row = conn.execute("UPDATE lease SET heartbeat = now(), "
                                       "expires_at = now() + make_interval(secs => %s) "
                                       "WHERE name = 'writer' AND token = %s AND expires_at > now() RETURNING 1",
                                       [self.seconds, self._token]).fetchone()
                if row is None:
                    self.lost.set()
                    _HELD.pop((self.url, self.schema), None)
                    if self.on_lost is not None:
                        self.on_lost()
                    return
            except Exception:  # noqa: BLE001 - a failed renewal is retried; expiry decides
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def _probe(self):
        conn = connect(self.url)
        try:
            with reachable(self._where()):
                if not _table_exists(conn, self.schema, "lease"):
                    return None
                with scoped(conn, self.schema):
                    return conn.execute("SELECT token, pid, host, command, since, expires_at > now() FROM lease "
                                        "WHERE name = 'writer'").fetchone()
        finally:
            conn.close()

    def held(self) -> bool:
        row = self._probe()
        return bool(row and row[0] and row[5])

    def holder(self) -> LockHolder | None:
        row = self._probe()
        return _holder(row) if row and row[5] else None

    def release(self) -> None:
        if self._token is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=CONNECT_TIMEOUT + 5)
        _HELD.pop((self.url, self.schema), None)
        try:
            conn = connect(self.url)
            try:
                with reachable(self._where()), scoped(conn, self.schema):
                    conn.execute("UPDATE lease SET token = NULL, expires_at = NULL WHERE name = 'writer' "
                                 "AND token = %s", [self._token])
            finally:
                conn.close()
        except StateError:
            pass  # unreachable: the lease expires on its own
        self._token = None

    def __enter__(self) -> PostgresLease:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _holder(row) -> LockHolder | None:
    if not row or not row[0]:
        return None
    return LockHolder(pid=row[1], host=row[2], command=row[3], since=row[4])


class PostgresStore:
    """One project's state in its PostgreSQL schema (``state.store.Store``)."""

    def __init__(self, url: str, schema: str, *, readonly: bool = False):
        self.url, self.schema, self.readonly = url, schema, readonly
        self._mutex = threading.RLock()
        self._conn = connect(url)
        self._exists = False
        self._lease = None if readonly else _HELD.get((url, schema))  # the lease this writer works under
        try:
            if readonly:
                self._exists = _table_exists(self._conn, schema, "meta")
                if self._exists:
                    with scoped(self._conn, schema):
                        self._check_version()
            else:
                ensure_schema(self._conn, schema)
                self._exists = True
                self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _where(self) -> str:
        return f"{redacted(self.url)} (schema {self.schema})"

    # -- schema ---------------------------------------------------------------

    def _version(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _check_version(self) -> None:
        version = self._version()
        if version > SCHEMA_VERSION:
            raise StateError(f"{self._where()}: written by a newer reconciler (schema {version}, this one knows "
                             f"{SCHEMA_VERSION}); upgrade")
        if 0 < version < SCHEMA_VERSION:
            raise StateError(f"{self._where()}: schema {version} is old; run `reconciler refresh` to upgrade it")

    def _migrate(self) -> None:
        with self._tx(bump=False) as cur:
            version = self._version()
            if version > SCHEMA_VERSION:
                raise StateError(f"{self._where()}: written by a newer reconciler (schema {version}); upgrade")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](cur)
            if version != SCHEMA_VERSION:
                cur.execute("INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE "
                            "SET value = EXCLUDED.value", [str(SCHEMA_VERSION)])
                cur.execute("INSERT INTO meta VALUES ('generation', '0') ON CONFLICT (key) DO NOTHING")

    @contextmanager
    def _session(self) -> Iterator:
        """The connection, in one transaction scoped to this schema, under the mutex. A
        connection the server or the network dropped is replaced by a new one here, so a
        long-running writer (``watch``) carries on once the database is back."""
        with self._mutex, reachable(self._where()):
            if self._conn.closed or self._conn.broken:
                self._conn.close()
                self._conn = connect(self.url)
            with scoped(self._conn, self.schema):
                yield self._conn

    @contextmanager
    def _tx(self, *, bump: bool = True, margin: float = 0.0) -> Iterator:
        """One write transaction. If this process holds the lease, the transaction first
        checks it is still ours with ``margin`` seconds left (so a writer whose lease
        lapsed changes nothing); the generation is bumped only when rows changed."""
        if self.readonly or self._conn is None:
            raise StateError("internal: write on a read-only state")
        with self._session() as conn:
            cur = _CountingCursor(conn.cursor())
            token = self._lease
            if token is not None:
                row = cur.cur.execute("SELECT 1 FROM lease WHERE name = 'writer' AND token = %s "
                                      "AND expires_at > now() + make_interval(secs => %s)", [token, margin]).fetchone()
                if row is None:
                    raise LockHeldError(f"the writer lease of {self._where()} was lost (expired or taken over); "
                                        f"nothing more is written or sent by this process")
            yield cur
            if bump and cur.changed:
                cur.cur.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'generation'")

    # -- reads ------------------------------------------------------------------

    def _rows(self, sql: str, params=()) -> list[dict]:
        if self._conn is None or not self._exists:
            return []
        with self._session() as conn:
            cur = conn.execute(sql, params)
            names = [d.name for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def generation(self) -> int:
        rows = self._rows("SELECT value FROM meta WHERE key = 'generation'")
        return int(rows[0]["value"]) if rows else 0

    def schema_version(self) -> int:
        if self._conn is None or not self._exists:
            return 0
        with self._session():
            return self._version()

    def recorded(self) -> dict[str, RecordedVideo]:
        if not self._has_videos():
            return {}
        return {row["address"]: _to_recorded(row, self._where()) for row in self._rows("SELECT * FROM videos ORDER BY address")}

    def get(self, address: str) -> RecordedVideo | None:
        if not self._has_videos():
            return None
        rows = self._rows("SELECT * FROM videos WHERE address = %s", [address])
        return _to_recorded(rows[0], self._where()) if rows else None

    def attempts(self, address: str | None = None) -> list[dict]:
        if not self._has_videos():
            return []
        if address is None:
            return self._rows("SELECT * FROM attempts ORDER BY id")
        return self._rows("SELECT * FROM attempts WHERE address = %s ORDER BY id", [address])

    def _has_videos(self) -> bool:
        return self._exists and self.schema_version() > 0

    # -- writes (each its own transaction) ----------------------------------------

    def begin_attempt(self, desired: DesiredVideo, holder: str) -> int:
        """The intent, before a paid create: refused unless half the lease remains."""
        with self._tx(margin=_HELD_margin()) as cur:
            row = cur.one_dict("SELECT * FROM videos WHERE address = %s FOR UPDATE", [desired.address])
            previous = json.dumps({k: row[k] for k in _ATTEMPT_FIELDS_OF_VIDEO}) if row else None
            prev = cur.one("SELECT MAX(attempt) FROM attempts WHERE address = %s", [desired.address])
            attempt = max((row["attempt"] or 0) if row else 0, prev[0] or 0) + 1
            fields = {
                "provider": desired.provider, "fingerprint": desired.fingerprint,
                "request": json.dumps(desired.request, ensure_ascii=False, sort_keys=True),
                "spec_file": desired.spec_file, "labels": json.dumps(desired.labels, sort_keys=True),
                "prevent_destroy": int(desired.prevent_destroy), "status": Status.PENDING.value,
                "task_id": None, "attempt": attempt, "error": None, "submitted_at": None,
                "finished_at": None, "video_url": None, "preview_image_url": None, "updated_at": now(),
            }
            if row:
                cur.update_video(desired.address, fields)
            else:
                cur.insert("videos", {"address": desired.address, "output_lost": 0, **fields})
            cur.insert("attempts", {
                "address": desired.address, "attempt": attempt, "provider": desired.provider,
                "fingerprint": desired.fingerprint, "status": Status.PENDING.value,
                "holder": holder, "intent_at": now(), "previous": previous,
            })
            return attempt

    def attempt_submitted(self, address: str, attempt: int, task_id: str) -> None:
        at = now()
        with self._tx() as cur:
            cur.set_attempt(address, attempt, status=Status.RENDERING.value, task_id=task_id, submitted_at=at)
            cur.set_video_if_attempt(address, attempt, status=Status.RENDERING.value, task_id=task_id, submitted_at=at)

    def attempt_failed(self, address: str, attempt: int, error: str, *, status: Status = Status.FAILED) -> None:
        with self._tx() as cur:
            cur.set_attempt(address, attempt, status=status.value, error=error)
            cur.set_video_if_attempt(address, attempt, status=status.value, error=error)

    def attempt_not_sent(self, address: str, attempt: int, error: str) -> None:
        with self._tx() as cur:
            cur.set_attempt(address, attempt, status="not_sent", error=error)
            row = cur.one("SELECT previous FROM attempts WHERE address = %s AND attempt = %s", [address, attempt])
            previous = json.loads(row[0]) if row and row[0] else None
            if previous is None:
                cur.execute("DELETE FROM videos WHERE address = %s AND attempt = %s AND output_file IS NULL",
                            [address, attempt])
                return
            cur.set_video_if_attempt(address, attempt, **previous)

    def record_task(self, address: str, task_id: str, status: Status, *, error: str | None = None,
                    video_url: str | None = None, preview_image_url: str | None = None,
                    finished_at: str | None = None, downloading: bool = False,
                    download_prior: str | None = None) -> bool:
        with self._tx() as cur:
            row = cur.one("SELECT task_id, attempt FROM videos WHERE address = %s", [address])
            if not row or row[0] != task_id:
                cur.set_attempt_by_task(address, task_id, status=status.value, error=error)
                return False
            fields = {"status": status.value, "error": error, "updated_at": now()}
            for key, value in (("video_url", video_url), ("preview_image_url", preview_image_url),
                               ("finished_at", finished_at)):
                if value is not None:
                    fields[key] = value
            if downloading:
                fields.update(download_task_id=task_id, download_prior=download_prior)
            cur.update_video(address, fields)
            cur.set_attempt(address, row[1], status=status.value, error=error,
                            finished_at=finished_at if status is not Status.RENDERING else None)
            return True

    def record_output(self, address: str, task_id: str, file: str, sha256: str, size: int,
                      place: str | None = None) -> None:
        with self._tx() as cur:
            row = cur.one("SELECT task_id, fingerprint, finished_at FROM videos WHERE address = %s", [address])
            if not row or row[0] != task_id:
                raise StateError(f"internal: output of {address} task {task_id} is not the current task")
            cur.update_video(address, {
                "status": Status.FINISHED.value, "error": None, "output_file": file, "output_sha256": sha256,
                "output_bytes": size, "output_fingerprint": row[1], "output_task_id": task_id,
                "output_lost": 0, "download_task_id": None, "download_prior": None, "output_place": place,
                "updated_at": now(), **({} if row[2] else {"finished_at": now()}),
            })

    def download_ended(self, address: str, task_id: str) -> None:
        with self._tx(bump=False) as cur:
            cur.execute("UPDATE videos SET download_task_id = NULL, download_prior = NULL "
                        "WHERE address = %s AND download_task_id = %s", [address, task_id])

    def download_started(self, address: str) -> tuple[str, str | None] | None:
        if not self._has_videos():
            return None
        rows = self._rows("SELECT download_task_id, download_prior FROM videos WHERE address = %s", [address])
        if not rows or not rows[0]["download_task_id"]:
            return None
        return rows[0]["download_task_id"], rows[0]["download_prior"]

    def render_output_lost(self, address: str, task_id: str, reason: str) -> None:
        with self._tx() as cur:
            row = cur.one("SELECT task_id, attempt, output_file, output_task_id FROM videos WHERE address = %s",
                          [address])
            if not row or row[0] != task_id:
                return
            if row[2] and row[3] != task_id:
                cur.update_video(address, {"status": Status.FAILED.value, "error": reason,
                                           "download_task_id": None, "download_prior": None, "updated_at": now()})
                cur.set_attempt(address, row[1], status=Status.FAILED.value, error=reason)
                return
            cur.update_video(address, {"output_lost": 1, "error": reason, "download_task_id": None,
                                       "download_prior": None, "updated_at": now()})

    def mark_output_lost(self, address: str, reason: str) -> None:
        with self._tx() as cur:
            cur.update_video(address, {"output_lost": 1, "error": reason, "updated_at": now()})

    def update_metadata(self, address: str, *, labels: dict[str, str], prevent_destroy: bool, spec_file: str) -> None:
        with self._tx() as cur:
            cur.update_video(address, {"labels": json.dumps(labels, sort_keys=True),
                                       "prevent_destroy": int(prevent_destroy), "spec_file": spec_file,
                                       "updated_at": now()})

    def record_superseded(self, address: str, task_id: str, outcome: str) -> None:
        with self._tx() as cur:
            cur.set_attempt_by_task(address, task_id, outcome=outcome)

    def remove(self, address: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM videos WHERE address = %s", [address])
            cur.execute("UPDATE attempts SET outcome = COALESCE(outcome, 'deleted') WHERE address = %s", [address])

    def recover(self) -> list[str]:
        with self._tx() as cur:
            rows = cur.all("SELECT address, attempt FROM attempts WHERE status = 'pending' ORDER BY id")
            for address, attempt in rows:
                cur.set_attempt(address, attempt, status=Status.UNKNOWN.value, error=INTERRUPTED_CREATE)
                cur.set_video_if_attempt(address, attempt, status=Status.UNKNOWN.value, error=INTERRUPTED_CREATE)
            return [r[0] for r in rows]

    # -- whole-state copy (``state migrate``) --------------------------------------

    def dump(self) -> dict:
        """Every row of the state, for a copy to another backend."""
        return {"meta": self._rows("SELECT * FROM meta WHERE key <> 'schema_version' ORDER BY key"),
                "videos": self._rows("SELECT * FROM videos ORDER BY address"),
                "attempts": self._rows("SELECT * FROM attempts ORDER BY id"),
                "cache": self._rows("SELECT * FROM cache ORDER BY fingerprint") if self._has_videos() else []}

    def load(self, data: dict) -> None:
        """Write a whole state dumped from another store into this empty one, in one transaction."""
        with self._tx(bump=False) as cur:
            for row in data["videos"]:
                cur.insert("videos", row)
            for row in data["attempts"]:
                cur.insert("attempts", row)
            for row in data.get("cache", []):
                cur.insert("cache", row)
            for row in data["meta"]:
                cur.execute("UPDATE meta SET value = %s WHERE key = %s", [row["value"], row["key"]])
            cur.execute("SELECT setval(pg_get_serial_sequence('attempts', 'id'), "
                        "GREATEST((SELECT MAX(id) FROM attempts), 1))")


    # -- the render cache's index (the same operations as the SQLite store) ------------

    def cache_index(self) -> dict[str, dict]:
        if not self._has_videos():
            return {}
        return {row["fingerprint"]: row for row in self._rows("SELECT * FROM cache")}

    def cached_fingerprints(self) -> frozenset[str]:
        if not self._has_videos():
            return frozenset()
        with self._session() as conn:
            return frozenset(r[0] for r in conn.execute("SELECT fingerprint FROM cache").fetchall())

    def cache_put(self, fingerprint: str, *, provider: str, task_id: str | None, sha256: str, size: int,
                  video_url: str | None = None, preview_image_url: str | None = None) -> None:
        at = now()
        with self._tx(bump=False) as cur:  # the cache is not the state a saved plan was made from
            cur.execute("INSERT INTO cache VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (fingerprint) "
                        "DO UPDATE SET provider = EXCLUDED.provider, task_id = EXCLUDED.task_id, "
                        "sha256 = EXCLUDED.sha256, bytes = EXCLUDED.bytes, video_url = EXCLUDED.video_url, "
                        "preview_image_url = EXCLUDED.preview_image_url, created_at = EXCLUDED.created_at, "
                        "used_at = EXCLUDED.used_at",
                        [fingerprint, provider, task_id, sha256, size, video_url, preview_image_url, at, at])

    def cache_used(self, fingerprint: str) -> None:
        with self._tx(bump=False) as cur:
            cur.execute("UPDATE cache SET used_at = %s WHERE fingerprint = %s", [now(), fingerprint])

    def cache_drop(self, fingerprint: str) -> None:
        with self._tx(bump=False) as cur:
            cur.execute("DELETE FROM cache WHERE fingerprint = %s", [fingerprint])

    def publish_cached(self, desired: DesiredVideo, entry: dict, file: str, place: str | None = None) -> None:
        """``desired`` is served from the render cache: its output ``file`` is in place,
        recorded as finished with the cached render's task, no attempt (nothing paid)."""
        at = now()
        with self._tx() as cur:
            exists = cur.one("SELECT 1 FROM videos WHERE address = %s FOR UPDATE", [desired.address])
            prev = cur.one("SELECT MAX(attempt) FROM attempts WHERE address = %s", [desired.address])
            fields = served_from_cache(desired, entry, file, place, attempt=prev[0] or 0, at=at)
            if exists:
                cur.update_video(desired.address, fields)
            else:
                cur.insert("videos", {"address": desired.address, **fields})
            cur.execute("UPDATE cache SET used_at = %s WHERE fingerprint = %s", [at, desired.fingerprint])


def _HELD_margin() -> float:
    return lease_seconds() / 2


class _CountingCursor:
    """A cursor inside one write transaction that counts the rows it changed."""

    def __init__(self, cur):
        self.cur = cur
        self.changed = 0

    def execute(self, sql: str, params=()) -> None:
        self.cur.execute(sql, params)
        if self.cur.rowcount and self.cur.rowcount > 0 and not sql.lstrip().upper().startswith("SELECT"):
            self.changed += self.cur.rowcount

    def one(self, sql: str, params=()):
        return self.cur.execute(sql, params).fetchone()

    def all(self, sql: str, params=()):
        return self.cur.execute(sql, params).fetchall()

    def one_dict(self, sql: str, params=()) -> dict | None:
        row = self.cur.execute(sql, params).fetchone()
        return dict(zip([d.name for d in self.cur.description], row)) if row else None

    def insert(self, table: str, fields: dict) -> None:
        cols = ", ".join(fields)
        self.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(fields))})", list(fields.values()))

    def update_video(self, address: str, fields: dict) -> None:
        sets = ", ".join(f"{k} = %s" for k in fields)
        self.execute(f"UPDATE videos SET {sets} WHERE address = %s", [*fields.values(), address])

    def set_attempt(self, address: str, attempt: int, **fields) -> None:
        sets = ", ".join(f"{k} = %s" for k in fields)
        self.execute(f"UPDATE attempts SET {sets} WHERE address = %s AND attempt = %s",
                     [*fields.values(), address, attempt])

    def set_attempt_by_task(self, address: str, task_id: str, **fields) -> None:
        sets = ", ".join(f"{k} = %s" for k in fields)
        self.execute(f"UPDATE attempts SET {sets} WHERE address = %s AND task_id = %s",
                     [*fields.values(), address, task_id])

    def set_video_if_attempt(self, address: str, attempt: int, /, **fields) -> None:
        fields["updated_at"] = now()
        sets = ", ".join(f"{k} = %s" for k in fields)
        self.execute(f"UPDATE videos SET {sets} WHERE address = %s AND attempt = %s",
                     [*fields.values(), address, attempt])
