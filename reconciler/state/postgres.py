"""The PostgreSQL state store (docs/team.md: a team's shared state).

Why a module of its own: a team (two teammates, a CI runner and a laptop) must share
one state, or each machine pays for every render. The store keeps exactly what the
SQLite store keeps (videos, attempts, cache, meta with the schema version and
generation), with the same writes (``state/rows.py``'s ``RowStore``: written once for
both), in the project's own schema (``state_schema``, default ``reconciler``), created
on first write. Here: the connection (replaced when the server or network dropped it),
the DDL, the reads, and the write transaction, which checks the writer lease
(``state/pg_lease.py``) before it changes anything. Nothing lives in a session: every
use is one transaction scoped to the schema (``pg_lease.scoped``), so it works behind
PgBouncer in transaction mode.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from reconciler.errors import LockHeldError, StateError
from reconciler.model import RecordedVideo
from reconciler.state.pg_lease import (
    connect,
    ensure_schema,
    held_token,
    intent_margin,
    reachable,
    redacted,
    scoped,
    table_exists,
)
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


def _migrate_5(cur) -> None:
    """Each attempt records the request it sent (as the SQLite store's migration 5)."""
    cur.execute("ALTER TABLE attempts ADD COLUMN request text")
    attempts = [tuple(r) for r in cur.all("SELECT id, fingerprint, previous FROM attempts")]
    videos = [tuple(r) for r in cur.all("SELECT fingerprint, request FROM videos")]
    for id_, request in sent_requests(attempts, videos).items():
        cur.execute("UPDATE attempts SET request = ? WHERE id = ?", [request, id_])


def _migrate_6(cur) -> None:
    cur.execute("ALTER TABLE videos ADD COLUMN account text")
    cur.execute("ALTER TABLE attempts ADD COLUMN account text")


def _migrate_7(cur) -> None:
    cur.execute("ALTER TABLE cache ADD COLUMN location text")  # where the bytes are (see the SQLite store)


def _migrate_8(cur) -> None:
    """What a published output's (and a cache entry's) full decode measured (as the SQLite store's migration 8)."""
    cur.execute("ALTER TABLE videos ADD COLUMN output_duration_s double precision, ADD COLUMN output_width integer, "
                "ADD COLUMN output_height integer")
    cur.execute("ALTER TABLE cache ADD COLUMN duration_s double precision, ADD COLUMN width integer, "
                "ADD COLUMN height integer")


MIGRATIONS = {1: _migrate_1, 2: _migrate_2, 3: _migrate_3, 4: _migrate_4, 5: _migrate_5,
              6: _migrate_6, 7: _migrate_7, 8: _migrate_8}  # the same versions as the SQLite store


class PostgresStore(RowStore):
    """One project's state in its PostgreSQL schema (``state.store.Store``)."""

    def __init__(self, url: str, schema: str, *, readonly: bool = False, receiving: bool = False):
        """``receiving``: opened by ``state migrate`` to ``receive`` a copy (its tables are
        created in the copy's own transaction)."""
        self.url, self.schema, self.readonly = url, schema, readonly
        self._mutex = threading.RLock()
        self._conn = connect(url)
        self._exists = False
        self._lease = None if readonly else held_token(url, schema)  # the lease this writer works under
        try:
            if readonly:
                self._exists = table_exists(self._conn, schema, "meta")
                if self._exists:
                    with scoped(self._conn, schema):
                        self._check_version()
            else:
                ensure_schema(self._conn, schema)
                self._exists = True
                if not receiving:
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

    def _refuse_partial_copy(self) -> None:
        """The marker of a ``state migrate`` killed half-way (``receive``): not an empty state."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'migrating'").fetchone()
        if row:
            raise migration_interrupted(self._where(), f"copying {row[0]}")

    def _check_version(self) -> None:
        self._refuse_partial_copy()
        version = self._version()
        if version > SCHEMA_VERSION:
            raise StateError(f"{self._where()}: written by a newer reconciler (schema {version}, this one knows "
                             f"{SCHEMA_VERSION}); upgrade")
        if 0 < version < SCHEMA_VERSION:
            raise StateError(f"{self._where()}: schema {version} is old; run `reconciler refresh` to upgrade it")

    def _migrate(self) -> None:
        with self._tx(bump=False) as cur:
            self._refuse_partial_copy()
            version = self._version()
            if version > SCHEMA_VERSION:
                raise StateError(f"{self._where()}: written by a newer reconciler (schema {version}); upgrade")
            _upgrade(cur, version)

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
            cur = _Cursor(conn.cursor())
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
        return {row["address"]: to_recorded(row, self._where()) for row in self._rows("SELECT * FROM videos ORDER BY address")}

    def get(self, address: str) -> RecordedVideo | None:
        if not self._has_videos():
            return None
        rows = self._rows("SELECT * FROM videos WHERE address = %s", [address])
        return to_recorded(rows[0], self._where()) if rows else None

    def attempts(self, address: str | None = None) -> list[dict]:
        if not self._has_videos():
            return []
        if address is None:
            return self._rows("SELECT * FROM attempts ORDER BY id")
        return self._rows("SELECT * FROM attempts WHERE address = %s ORDER BY id", [address])

    def render_history(self, limit: int = 512) -> list[dict]:
        if not self._has_videos():
            return []
        return self._rows(RENDER_HISTORY.format(limit=limit))[::-1]

    def _has_videos(self) -> bool:
        return self._exists and self.schema_version() > 0

    def meta(self, key: str) -> str | None:
        """A settings row of ``meta`` (e.g. ``outputs_location``), None when unset."""
        rows = self._rows("SELECT value FROM meta WHERE key = %s", [key])
        return rows[0]["value"] if rows else None

    # -- writes (each its own transaction) ----------------------------------------

    def _intent_margin(self) -> float:
        return intent_margin()

    def download_started(self, address: str) -> tuple[str, str | None] | None:
        if not self._has_videos():
            return None
        rows = self._rows("SELECT download_task_id, download_prior FROM videos WHERE address = %s", [address])
        if not rows or not rows[0]["download_task_id"]:
            return None
        return rows[0]["download_task_id"], rows[0]["download_prior"]

    # -- whole-state copy (``state migrate``) --------------------------------------

    def dump(self) -> dict:
        """Every row of the state, for a copy to another backend."""
        return {"meta": self._rows("SELECT * FROM meta WHERE key <> 'schema_version' ORDER BY key"),
                "videos": self._rows("SELECT * FROM videos ORDER BY address"),
                "attempts": self._rows("SELECT * FROM attempts ORDER BY id"),
                "cache": self._rows("SELECT * FROM cache ORDER BY fingerprint") if self._has_videos() else []}

    def receive(self, data: dict, source: str, check) -> None:
        """``state migrate`` into this schema (its lease held): first a marker row (meta
        ``migrating``) in its own transaction, then one transaction that creates the tables,
        writes every row, removes the marker and lets ``check`` compare the copy before it
        commits. A kill half-way rolls the copy back and leaves the marker: every command then
        refuses this state naming ``state migrate`` (never an empty state to render again),
        and the rerun recognises it and copies again."""
        with self._session():
            version = self._version()
        if version and (version != SCHEMA_VERSION or self.recorded() or self.attempts() or self.cache_index()):
            raise target_full(self._where())  # an empty state (no row at all) is as good as none
        with self._tx(bump=False) as cur:
            cur.execute("INSERT INTO meta VALUES ('migrating', ?) ON CONFLICT (key) DO UPDATE "
                        "SET value = EXCLUDED.value", [source])
        try:
            with self._tx(bump=False) as cur:
                _upgrade(cur, version)
                self._load(cur, data)
                cur.execute("DELETE FROM meta WHERE key = 'migrating'")
                check(self.dump())
        except BaseException:
            self._drop_marker()  # a copy that failed (not killed) leaves the target as it was
            raise

    def _drop_marker(self) -> None:
        try:
            with self._tx(bump=False) as cur:
                cur.execute("DELETE FROM meta WHERE key = 'migrating'")
        except StateError:
            pass  # unreachable or lease lost: the marker stays, and the rerun completes the copy

    def _load(self, cur: _Cursor, data: dict) -> None:
        """Write a whole state dumped from another store into this empty one (in ``cur``'s transaction)."""
        for row in data["videos"]:
            cur.insert("videos", row)
        crash_point("mid_migrate")
        for row in data["attempts"]:
            cur.insert("attempts", row)
        for row in data.get("cache", []):
            cur.insert("cache", row)
        for row in data["meta"]:  # the generation, and settings rows (the outputs location)
            cur.execute("INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                        "SET value = EXCLUDED.value", [row["key"], row["value"]])
        cur.execute("SELECT setval(pg_get_serial_sequence('attempts', 'id'), "
                    "GREATEST((SELECT MAX(id) FROM attempts), 1))")

    # -- the render cache's index (the same operations as the SQLite store) ------------

    def cache_index(self) -> dict[str, dict]:
        if not self._has_videos():
            return {}
        return {row["fingerprint"]: row for row in self._rows("SELECT * FROM cache")}

    def cached_fingerprints(self, location: str | None = None) -> frozenset[str]:
        if not self._has_videos():
            return frozenset()
        sql, params = "SELECT fingerprint FROM cache", []
        if location is not None:
            sql, params = sql + " WHERE location IS NULL OR location = %s", [location]
        with self._session() as conn:
            return frozenset(r[0] for r in conn.execute(sql, params).fetchall())


def _upgrade(cur, version: int) -> None:
    """Bring the tables from schema ``version`` to ``SCHEMA_VERSION`` in ``cur``'s transaction."""
    for target in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[target](cur)
    if version != SCHEMA_VERSION:
        cur.execute("INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE "
                    "SET value = EXCLUDED.value", [str(SCHEMA_VERSION)])
        cur.execute("INSERT INTO meta VALUES ('generation', '0') ON CONFLICT (key) DO NOTHING")


class _Cursor(TxCursor):
    """A cursor inside one write transaction that counts the rows it changed; the
    shared writes' ``?`` placeholders become psycopg's ``%s``."""

    for_update = " FOR UPDATE"  # rows read to be changed are locked against another writer's transaction

    def __init__(self, cur):
        self.cur = cur
        self.changed = 0

    def execute(self, sql: str, params=()) -> None:
        self.cur.execute(_pg(sql), params)
        if self.cur.rowcount and self.cur.rowcount > 0 and not sql.lstrip().upper().startswith("SELECT"):
            self.changed += self.cur.rowcount

    def one(self, sql: str, params=()):
        return self.cur.execute(_pg(sql), params).fetchone()

    def all(self, sql: str, params=()) -> list:
        return self.cur.execute(_pg(sql), params).fetchall()

    def one_dict(self, sql: str, params=()) -> dict | None:
        row = self.cur.execute(_pg(sql), params).fetchone()
        return dict(zip([d.name for d in self.cur.description], row)) if row else None


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")  # the shared SQL holds no other "?" (nor a "%")
