"""Reaching a PostgreSQL state, and its writer lease (docs/team.md: one writer across machines).

Why a module of its own: the lease is the locking half of the PostgreSQL backend (the
store, ``state/postgres.py``, is the other), as ``state/lock.py`` is SQLite's. Without
stuck locks: Terraform's pg backend (session advisory locks plus a global lock) is
known for stuck locks, collisions between schemas and breakage behind PgBouncer in
transaction mode. Here the writer role is a *lease row* in the schema (holder host,
pid, command, since, heartbeat, expiry), taken with ``SELECT ... FOR UPDATE`` +
``UPDATE`` in one short transaction and renewed by a heartbeat thread in short
transactions, so it survives a pooler in transaction mode and needs no global lock. A
holder that dies stops renewing: its lease expires within ``LEASE_SECONDS`` (≤ 30 s)
and the next writer takes it over. A writer whose lease has lapsed (partition, long
pause) can no longer write: every write transaction of the store checks the lease,
and an intent demands that at least half of it remains (``intent_margin``).

Nothing lives in a session (``scoped``): each read and write is one transaction that
sets its own search path and statement timeout, with no startup ``options`` (PgBouncer
refuses them) and no server-side prepared statement, so any server connection a
pooler hands a transaction will do (``tests/pgbouncer.py`` runs the e2e through one).
``connect`` is the one way to a PostgreSQL state; psycopg is imported only there (and
in ``reachable``), only when a state is PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from contextlib import contextmanager
from typing import Iterator

from reconciler.errors import ConfigError, LockHeldError, StateError, StateUnreachableError
from reconciler.state.lock import LockHolder, held_message
from reconciler.util import clock, urls

now = clock.iso_now

LEASE_VAR = "RECONCILER_TEST_LEASE_SECONDS"  # tests only: a shorter lease than the default


LEASE_SECONDS = 15.0  # a dead holder loses the role within this (docs/team.md: within 30 s)


CONNECT_TIMEOUT = 10  # seconds: every network call has a timeout


STATEMENT_TIMEOUT_MS = 30_000


LOCK_WAIT_MS = 2_000  # taking the lease waits no longer on another transaction's lock (another's DDL)


_HELD: dict[tuple[str, str], str] = {}  # (url, schema) -> token of the lease this process holds


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
    transaction mode may hand each transaction to another server connection.

    The URL is parsed by ``util.urls`` (the last ``@`` ends the user part, so a password
    with an unescaped ``@``, ``:`` or ``/`` works) and its user and password are handed
    to libpq as keywords, never inside the URL; the driver's messages are scrubbed of
    every piece of the password before they are shown."""
    psycopg = driver()
    conninfo, keywords = _conninfo(url)
    try:
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT, prepare_threshold=None,
                               **keywords)
    except psycopg.OperationalError as exc:  # refused, timed out, name unknown, authentication
        raise StateUnreachableError(f"cannot reach the PostgreSQL state {redacted(url)}: {_why(exc, url)}") from None
    except psycopg.Error as exc:
        raise StateError(f"cannot reach the PostgreSQL state {redacted(url)}: {_why(exc, url)}") from None
    return conn


def driver():
    """The psycopg module, or a ConfigError naming the extra to install."""
    try:
        import psycopg
    except ImportError:
        from reconciler import DISTRIBUTION

        raise ConfigError(f"a PostgreSQL state needs the psycopg driver: pip install '{DISTRIBUTION}[postgresql]'"
                          ) from None
    return psycopg


def _conninfo(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its user part, and the user and password (decoded) as keywords."""
    try:
        parsed = urls.parse(url)
    except urls.UrlError:  # store.backend refused it already, with the reason
        raise ConfigError(f"the PostgreSQL state URL {redacted(url)} cannot be read") from None
    if parsed.userinfo is None:
        return url, {}
    keywords = {"user": parsed.user} if parsed.user else {}
    if parsed.password:  # an empty one (``user:@host``) leaves PGPASSWORD and .pgpass their say
        keywords["password"] = parsed.password
    return parsed.without_userinfo(), keywords


def redacted(url: str) -> str:
    return urls.redact(url)


# libpq's words when the server wants a password it did not get right (issue 22: say where libpq looks)
_PASSWORD_REFUSED = ("password authentication failed", "no password supplied")
PASSWORD_HINT = ("the server wants the right password: put it in the state URL (percent-encoded), or leave it out "
                 "of the URL and give it to libpq in PGPASSWORD or ~/.pgpass")


def _why(exc: BaseException, url: str) -> str:
    """The first line of a driver error about ``url``, with no piece of its secrets (and,
    when the password was refused or missing, where to give it)."""
    why = urls.scrub_url(_first_line(exc), url)
    if any(words in str(exc) for words in _PASSWORD_REFUSED):
        why += f"; {PASSWORD_HINT}"
    return why


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
    psycopg = driver()

    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise StateUnreachableError(
            f"{where}: lost the connection to the state database ({_first_line(exc)}). Check the database "
            "server and the network, then run `reconciler refresh`; everything recorded before this is kept") from None


def table_exists(conn, schema: str, table: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{schema}.{table}"]).fetchone()[0]


def ensure_schema(conn, schema: str) -> None:
    """Create the schema, ``meta`` and the lease row if missing. A transaction-scoped
    advisory lock serialises two first users (it ends with the transaction, so it is
    safe behind a pooler in transaction mode); it never outlives this call."""
    if table_exists(conn, schema, "lease"):
        return
    with conn.transaction():
        _bound_lock_waits(conn)
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
        """Take the lease, or fail at once naming its holder. Every lock this waits on (the
        schema's creation by another first user, the lease row another is taking) is held
        for a short transaction at most; a wait longer than ``LOCK_WAIT_MS`` means another
        writer is at work, and fails as held rather than waiting for that writer's end."""
        psycopg = driver()
        conn = connect(self.url)
        try:
            with reachable(self._where()):
                try:
                    token = self._take(conn, command)
                except psycopg.errors.LockNotAvailable:
                    raise self._busy() from None
        finally:
            conn.close()
        self._token = token
        _HELD[(self.url, self.schema)] = token
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_loop, name="state-lease", daemon=True)
        self._thread.start()
        return self

    def _busy(self) -> LockHeldError:
        """Another writer kept a lock past ``LOCK_WAIT_MS``: name the lease's holder (read
        without a lock) if it has one yet."""
        row = self._probe()
        holder = _holder(row) if row and row[5] else None
        if holder is None:
            return LockHeldError(f"the state {self._where()} is being taken by another process (it is creating "
                                 f"the state's tables or taking its lease); run this command again in a moment")
        return LockHeldError(held_message(self._where(), holder))

    def _take(self, conn, command: str) -> str:
        """One short transaction: the lease row read and locked, then ours (its token)."""
        ensure_schema(conn, self.schema)
        token = secrets.token_hex(16)
        me = LockHolder(pid=os.getpid(), host=socket.gethostname(), command=command, since=now())
        with scoped(conn, self.schema):
            _bound_lock_waits(conn)
            row = conn.execute("SELECT token, pid, host, command, since, expires_at > now(), "
                               "extract(epoch FROM expires_at - now()) FROM lease "
                               "WHERE name = 'writer' FOR UPDATE").fetchone()
            holder = _holder(row)
            if holder is not None and row[5]:
                raise LockHeldError(held_message(self._where(), holder, ends_in=float(row[6])))
            self.taken_over = holder  # a token still set but expired: its holder died
            conn.execute("UPDATE lease SET token = %s, pid = %s, host = %s, command = %s, since = %s, "
                         "heartbeat = now(), expires_at = now() + make_interval(secs => %s) "
                         "WHERE name = 'writer'", [token, me.pid, me.host, me.command, me.since, self.seconds])
        return token

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
                if not table_exists(conn, self.schema, "lease"):
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


def _bound_lock_waits(conn) -> None:
    """This transaction waits at most ``LOCK_WAIT_MS`` for a lock (then ``LockNotAvailable``)."""
    conn.execute("SELECT set_config('lock_timeout', %s, true)", [str(LOCK_WAIT_MS)])


def _holder(row) -> LockHolder | None:
    if not row or not row[0]:
        return None
    return LockHolder(pid=row[1], host=row[2], command=row[3], since=row[4])


def held_token(url: str, schema: str) -> str | None:
    """The token of the lease this process holds on (url, schema), if any: the store
    opened by the lease holder checks it in every write transaction."""
    return _HELD.get((url, schema))


def intent_margin() -> float:
    """Seconds of the lease an intent (before a paid create) demands: half of it, so the
    create leaves well before anyone else could take the role over."""
    return lease_seconds() / 2

