"""The state store seam: what the layers above may ask of a state, whatever keeps it.

Why a module of its own: the planner's inputs, the engine, the daemon and the commands
need a dozen operations on the state (read the recorded videos and the generation,
write an intent before a paid create and its answer after, record a poll, a
download, a failure, a delete, turn a dead writer's intents into ``unknown``), and
one writer at a time. Two implementations keep them: SQLite
(``state/sqlite.py`` + ``state/lock.py``, the default) and PostgreSQL for a team's
shared state (``state/postgres.py``, docs/team.md, ``state: postgresql://...``). So:

- ``Store`` and ``WriterLock`` name exactly those operations (typing Protocols);
- ``backend(config)`` is the one place that chooses an implementation by the
  ``state`` setting (or ``RECONCILER_STATE_URL``); commands and the engine go
  through ``writer_lock`` / ``open_store`` / ``read_recorded`` and never name SQLite;
- ``tests/state/test_store_contract.py`` is the behaviour every backend must pass.

Order of use by a writer (apply, refresh, watch): ``writer_lock(config).acquire(cmd)``
first, then ``open_store(config)``: opening a writer store may upgrade its schema,
which only the lock holder may do. Readers (plan, status) use ``read_recorded`` or
``open_store(config, readonly=True)``: they never create or change anything, and a
missing state reads as empty.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Collection, Mapping, Protocol

from reconciler.errors import ConfigError
from reconciler.model import DesiredVideo, MediaFacts, RecordedVideo, Status
from reconciler.state.rows import INTERRUPTED_CREATE
from reconciler.util import urls

if TYPE_CHECKING:
    from reconciler.config import Config
    from reconciler.state.lock import LockHolder

STATE_URL_VAR = "RECONCILER_STATE_URL"  # docs/team.md: overrides `state` in reconciler.yaml
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# who wrote an attempt that ``state import`` adopted (``holder`` of its history row): a person, no create sent
IMPORT_HOLDER = "state import"


class WriterLock(Protocol):
    """The exclusive right to change one state (one apply, refresh or watch at a time)."""

    taken_over: LockHolder | None  # set by ``acquire`` when a dead holder's lock was taken over

    def acquire(self, command: str) -> WriterLock:
        """Take the lock or fail at once with ``LockHeldError`` naming the holder."""

    def held(self) -> bool:
        """Whether a live writer holds it now (a probe that creates nothing)."""

    def holder(self) -> LockHolder | None:
        """Who holds it now (None when free): a probe that creates nothing."""

    def release(self) -> None: ...


class Store(Protocol):
    """One state: the latest attempt and published output of every video, the history
    of paid calls, and a generation counter. Each write is its own transaction, durable
    when the call returns; a write on a read-only store raises ``StateError``."""

    # -- reads ----------------------------------------------------------------------

    def recorded(self) -> dict[str, RecordedVideo]:
        """Every recorded video by address (a snapshot: the manifest is rendered from it)."""

    def get(self, address: str) -> RecordedVideo | None: ...

    def generation(self) -> int:
        """Bumped by every write that changes a row (not by opening, nor by an empty
        ``recover``): a saved plan made at another generation is stale."""

    def schema_version(self) -> int:
        """The schema the state is written in; 0 for a state never written."""

    def attempts(self, address: str | None = None) -> list[dict]:
        """The history of paid calls, oldest first. Keys every backend keeps:
        ``address, attempt, provider, fingerprint, task_id, status, error, holder,
        intent_at, submitted_at, finished_at, outcome``."""

    def render_history(self, limit: int = 512) -> list[dict]:
        """The newest ``limit`` finished renders, oldest first: ``provider``, ``request``
        (the JSON it sent), ``submitted_at``, ``finished_at`` (what the poll schedule
        learns render durations from, apply/schedule.py)."""

    # -- writes -------------------------------------------------------------------------

    def begin_attempt(self, desired: DesiredVideo, holder: str, account: str | None = None) -> int:
        """The intent, written *before* a paid create as the vendor ``account`` (docs/team.md).
        Returns the attempt number."""

    def attempt_submitted(self, address: str, attempt: int, task_id: str) -> None:
        """The create's answer: the render exists and is paid for."""

    def attempt_failed(self, address: str, attempt: int, error: str, *, status: Status = Status.FAILED) -> None:
        """A definite refusal, or (``status=UNKNOWN``) a create whose answer never came."""

    def attempt_not_sent(self, address: str, attempt: int, error: str) -> None:
        """The create certainly never left: forget the intent, put the video back."""

    def record_task(self, address: str, task_id: str, status: Status, *, error: str | None = None,
                    video_url: str | None = None, preview_image_url: str | None = None,
                    finished_at: str | None = None, downloading: bool = False,
                    download_prior: str | None = None) -> bool:
        """What a poll said. False (and the video untouched) if the task is superseded.
        ``downloading`` records, in the same write, that this task's download starts and
        what was at the output path before it (``download_prior``), so a file renamed into
        place by a writer killed before ``record_output`` can be adopted."""

    def download_started(self, address: str) -> tuple[str, str | None] | None:
        """(task id, prior identity) of the last download begun and not recorded, if any."""

    def download_ended(self, address: str, task_id: str) -> None:
        """A download of ``task_id`` failed before any rename: nothing to adopt later."""

    def record_output(self, address: str, task_id: str, file: str, sha256: str, size: int,
                      place: str | None = None, media: MediaFacts | None = None) -> None:
        """The current task's output is downloaded and decode-verified: publish it. ``place``
        (``outputs.this_place``) is the checkout that holds the file (docs/team.md); ``media``
        what its decode measured (``media.verify.MediaInfo`` fits: duration, frame size)."""

    def mark_output_lost(self, address: str, reason: str) -> None: ...

    def render_output_lost(self, address: str, task_id: str, reason: str) -> None:
        """The vendor can no longer give the output of the current task: an older output
        still published (a replace) stays published and the new render is recorded
        failed; otherwise the output is marked lost."""

    def update_metadata(self, address: str, *, labels: dict[str, str], prevent_destroy: bool,
                        spec_file: str) -> None: ...

    def record_superseded(self, address: str, task_id: str, outcome: str) -> None:
        """An old task left behind by a replace or delete: ``cancelled`` or ``abandoned``."""

    def remove(self, address: str) -> None:
        """Forget a deleted video; its history stays."""

    def recover(self) -> list[str]:
        """Turn intents a dead writer left pending into ``unknown`` (lock holder only)."""

    # -- a person's repairs (docs/team.md) ----------------------------------------------

    def import_task(self, desired: DesiredVideo, task_id: str, status: Status, *, holder: str,
                    video_url: str | None = None, preview_image_url: str | None = None,
                    finished_at: str | None = None, account: str | None = None) -> int:
        """``state import``: ``task_id`` (checked at the vendor by the caller) becomes the
        current render of ``desired``, recorded with its fingerprint, ``status`` rendering or
        finished; a new attempt in the history, written by ``holder``, whose create this
        state never sent. A published output stays published until the task's own is
        recorded (as in a replace). Returns the attempt number."""

    def forget(self, addresses: Collection[str]) -> None:
        """``state forget``: drop these videos, all or none (``StateError`` naming an
        address not recorded); their history stays, marked ``forgotten``."""

    # -- where the outputs are (``state/outputs_location``, ``outputs migrate``) ------------

    def meta(self, key: str) -> str | None:
        """A settings row (``outputs_location``, ``state_id``, ...), None when unset."""

    def set_meta(self, values: dict[str, str | None]) -> None:
        """Write settings rows (None removes one); no generation bump."""

    def move_outputs(self, files: dict[str, tuple[str, str | None]], meta: dict[str, str | None],
                     cache_location: str | None = None) -> None:
        """Each video's published output is now ``files[address]`` (file, place), every
        cache entry's bytes are at ``cache_location``, and the settings ``meta`` are
        written, in one transaction."""

    # -- the render cache's index (docs/cache.md; the bytes: ``outputs/render_cache``) --------

    def cache_index(self) -> dict[str, dict]:
        """Every cache entry by render fingerprint (provider, task_id, sha256, bytes,
        video_url, preview_image_url, created_at, used_at, location): an input of the plan."""

    def cached_fingerprints(self, location: str | None = None) -> frozenset[str]:
        """The fingerprints the cache holds (the plan's input: cheaper than the index); with
        ``location``, only entries whose bytes are kept there or not recorded."""

    def cache_put(self, fingerprint: str, *, provider: str, task_id: str | None, sha256: str, size: int,
                  video_url: str | None = None, preview_image_url: str | None = None,
                  location: str | None = None, media: MediaFacts | None = None) -> None: ...

    def cache_used(self, fingerprint: str) -> None: ...

    def cache_drop(self, fingerprint: str) -> None: ...

    def publish_cached(self, desired: DesiredVideo, entry: dict, file: str, place: str | None = None) -> None:
        """``desired`` served from the cache: its file is in place; record it finished."""

    def close(self) -> None: ...


class StateBackend(Protocol):
    """Where one state lives: gives its writer lock and opens it."""

    def lock(self) -> WriterLock: ...

    def open(self, *, readonly: bool = False) -> Store: ...

    def describe(self) -> str: ...

    def receive(self, data: dict, source: str, check) -> None:
        """``state migrate`` (both locks held): make this empty state a copy of ``data``
        (a ``dump`` of ``source``), all or nothing. ``check(copied)`` sees the copy before
        it becomes the state and raises to abandon it. A target holding a state is refused;
        a kill half-way leaves a mark every command refuses naming ``state migrate``, and
        the rerun completes the copy."""


class SqliteBackend:
    """A state in one SQLite file (the default ``state/reconciler.db``). A plain class:
    a dataclass would cost ``plan`` ~3 ms of start-up for one field."""

    def __init__(self, path: Path):
        self.path = path

    def describe(self) -> str:
        return str(self.path)

    def __eq__(self, other) -> bool:
        return isinstance(other, SqliteBackend) and self.path.resolve() == other.path.resolve()

    def lock(self) -> WriterLock:
        from reconciler.state.lock import StateLock

        return StateLock(self.path)

    def open(self, *, readonly: bool = False) -> Store:
        from reconciler.state.sqlite import StateStore

        return StateStore(self.path, readonly=readonly)

    def receive(self, data: dict, source: str, check) -> None:
        from reconciler.state.sqlite import receive

        receive(self.path, data, check)


class PostgresBackend:
    """A state in the project's schema of a PostgreSQL database (docs/team.md); psycopg
    is imported only when one is opened."""

    def __init__(self, url: str, schema: str):
        self.url, self.schema = url, schema

    def describe(self) -> str:
        return f"{_redacted(self.url)} (schema {self.schema})"

    def lock(self) -> WriterLock:
        from reconciler.state.pg_lease import PostgresLease

        return PostgresLease(self.url, self.schema)

    def open(self, *, readonly: bool = False) -> Store:
        from reconciler.state.postgres import PostgresStore

        return PostgresStore(self.url, self.schema, readonly=readonly)

    def receive(self, data: dict, source: str, check) -> None:
        from reconciler.state.postgres import PostgresStore

        store = PostgresStore(self.url, self.schema, receiving=True)
        try:
            store.receive(data, source, check)
        finally:
            store.close()


def backend(config: Config, env: Mapping[str, str] | None = None) -> StateBackend:
    """The backend the ``state`` setting names (``RECONCILER_STATE_URL`` beats it).

    Cheap and without I/O, so a command can call it before anything else: a setting
    this version cannot serve fails here, before any file or lock is created."""
    env = os.environ if env is None else env
    url = env.get(STATE_URL_VAR)
    if url:
        where = f"{STATE_URL_VAR} (environment)"
        setting = url
    else:
        from reconciler.config import key_place  # only for a message

        where = f"{key_place(config.root, 'state')}: state"
        setting = config.file.state
    if not _URL.match(setting):
        if url:
            raise ConfigError(f"{where}: expected a postgresql:// URL, got {_redacted(setting)!r}; "
                              f"unset it to use `state:` of reconciler.yaml")
        return SqliteBackend(config.state_path)
    scheme = setting.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        _check_postgres_url(where, setting)
        return PostgresBackend(setting, config.file.state_schema)
    raise ConfigError(f"{where}: unknown state backend {scheme!r} in {_redacted(setting)}; use a file path "
                      f"(SQLite, e.g. state/reconciler.db) or a postgresql:// URL")


def target_backend(config: Config, to: str) -> StateBackend:
    """The backend ``state migrate --to`` names: a postgresql:// URL (into the project's
    ``state_schema``) or a SQLite file path (relative to the project)."""
    if not _URL.match(to):
        return SqliteBackend(config.root / to)
    scheme = to.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        _check_postgres_url("--to", to)
        return PostgresBackend(to, config.file.state_schema)
    raise ConfigError(f"--to: unknown state backend {scheme!r} in {_redacted(to)}; use a postgresql:// URL "
                      f"or a SQLite file path")


def _check_postgres_url(where: str, url: str) -> None:
    """ConfigError (quoting no part of it) for a PostgreSQL URL that cannot be read."""
    try:
        urls.parse(url)
    except urls.UrlError as exc:
        raise ConfigError(f"{where}: the PostgreSQL URL cannot be read: {exc}. Percent-encode any special "
                          "character of the user or password (@ as %40, : as %3A, / as %2F, % as %25), or set "
                          "the password in PGPASSWORD") from None


def describe(config: Config) -> str:
    """Where the state is, for messages: the project-relative file, or the database URL
    without its password and the schema."""
    found = backend(config)
    return config.rel(found.path) if isinstance(found, SqliteBackend) else found.describe()


def writer_lock(config: Config) -> WriterLock:
    return backend(config).lock()


def open_store(config: Config, *, readonly: bool = False) -> Store:
    return backend(config).open(readonly=readonly)


def read_recorded(config: Config, *, recovered: bool) -> tuple[dict[str, RecordedVideo], int]:
    """The recorded videos and the generation, read-only (nothing is created). With
    ``recovered``, intents left pending read as ``unknown`` (``as_recovered``): what a
    planner sees when no live writer owns them."""
    store = open_store(config, readonly=True)
    try:
        recorded, generation = store.recorded(), store.generation()
    finally:
        store.close()
    return (as_recovered(recorded) if recovered else recorded), generation


def read_plan_inputs(config: Config, *, recovered: bool, with_cache: bool = True,
                     location: str | None = None) -> tuple[dict[str, RecordedVideo], int, frozenset[str]]:
    """``read_recorded`` plus the fingerprints the render cache holds (docs/cache.md; an
    empty set ``with_cache=False``; with ``location``, only entries kept there or not
    recorded): every input of a plan that the state keeps, read through one read-only open."""
    store = open_store(config, readonly=True)
    try:
        recorded, generation = store.recorded(), store.generation()
        cached = store.cached_fingerprints(location) if with_cache else frozenset()
    finally:
        store.close()
    return (as_recovered(recorded) if recovered else recorded), generation, cached


def cache_entries(store: Store, fingerprints: frozenset[str]) -> list[dict]:
    """The index rows of ``fingerprints`` (those the cache holds), by fingerprint order."""
    index = store.cache_index()
    return [index[f] for f in sorted(fingerprints) if f in index]


def read_cache_entries(config: Config, fingerprints: frozenset[str]) -> list[dict]:
    """``cache_entries`` through a read-only open (for ``plan``, whose store is closed)."""
    store = open_store(config, readonly=True)
    try:
        return cache_entries(store, fingerprints)
    finally:
        store.close()


def as_recovered(recorded: dict[str, RecordedVideo]) -> dict[str, RecordedVideo]:
    """What ``Store.recover`` would make of ``recorded``, in memory: for a reader
    (``plan``) when no writer holds the lock, so its plan matches the one ``apply`` makes."""
    return {a: dataclasses.replace(v, status=Status.UNKNOWN, error=INTERRUPTED_CREATE)
            if v.status is Status.PENDING else v for a, v in recorded.items()}


def _redacted(url: str) -> str:
    """``url`` safe to print (``util.urls``: no password, token or credential query value)."""
    return urls.redact(url)
