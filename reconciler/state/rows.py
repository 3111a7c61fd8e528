"""The state's rows and the writes on them, written once for every SQL backend.

Why a module of its own: the SQLite and the PostgreSQL stores keep the same tables
(``videos``, ``attempts``, ``cache``, ``meta``) with the same meaning, and must behave
alike operation by operation (``tests/state/test_store_contract.py`` holds both to it).
So what each write *does* (the intent before a paid create, a poll's answer, a
published output, a lost one, a dead writer's intents turned ``unknown``, the render
cache's index) is decided here, once, in ``RowStore``, against a small transaction
cursor (``TxCursor``). Each backend keeps only what differs: how it connects, how a
write transaction is taken and locked (``BEGIN IMMEDIATE`` + a file lock; a
transaction that checks the writer lease), its placeholder style and DDL, and its
reads. The row -> ``RecordedVideo`` mapping lives here too, with its refusal of a row
edited by hand into something that does not parse.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager

from reconciler.errors import StateError
from reconciler.model import DesiredVideo, MediaFacts, RecordedVideo, Status
from reconciler.util import clock

SCHEMA_VERSION = 8  # both backends migrate through the same versions
INTERRUPTED_CREATE = ("the create may have been sent (and paid for) before reconciler stopped; "
                      "its answer was never recorded")

now = clock.iso_now  # the one clock (util/clock)

# the attempt columns of a video row, kept with an intent to put the row back if the create is never sent
ATTEMPT_FIELDS_OF_VIDEO = (
    "fingerprint", "request", "spec_file", "labels", "prevent_destroy", "status", "task_id", "attempt",
    "error", "submitted_at", "finished_at", "video_url", "preview_image_url", "account",
)
CACHE_COLUMNS = ("fingerprint", "provider", "task_id", "sha256", "bytes", "video_url", "preview_image_url",
                 "created_at", "used_at", "location",  # location: where the bytes are (``OutputsStore.cache_location``)
                 "duration_s", "width", "height")  # what the output's full decode measured (media.verify)


def served_from_cache(desired: DesiredVideo, entry: dict, file: str, place: str | None, *, attempt: int,
                      at: str) -> dict:
    """The video row of ``desired`` served from the render cache (every backend writes
    exactly this): finished with the cached render's task and output, no new attempt."""
    import json

    return {
        "provider": desired.provider, "fingerprint": desired.fingerprint,
        "request": json.dumps(desired.request, ensure_ascii=False, sort_keys=True),
        "spec_file": desired.spec_file, "labels": json.dumps(desired.labels, sort_keys=True),
        "prevent_destroy": int(desired.prevent_destroy), "status": Status.FINISHED.value,
        "task_id": entry["task_id"], "attempt": attempt, "error": None, "submitted_at": None,
        "finished_at": at, "video_url": entry.get("video_url"),
        "preview_image_url": entry.get("preview_image_url"), "output_file": file,
        "output_sha256": entry["sha256"], "output_bytes": entry["bytes"],
        "output_fingerprint": desired.fingerprint, "output_task_id": entry["task_id"],
        "output_lost": 0, "download_task_id": None, "download_prior": None, "output_place": place,
        "output_duration_s": entry.get("duration_s"), "output_width": entry.get("width"),
        "output_height": entry.get("height"), "updated_at": at,
    }


class TxCursor:
    """One write transaction, as the shared writes use it. SQL is written with ``?``
    placeholders; a backend whose driver wants another style translates them."""

    for_update = ""  # appended to a SELECT of rows the transaction then changes (PostgreSQL locks them)

    def execute(self, sql: str, params=()) -> None:
        raise NotImplementedError

    def one(self, sql: str, params=()):
        """The first row (a tuple), or None."""
        raise NotImplementedError

    def all(self, sql: str, params=()) -> list:
        raise NotImplementedError

    def one_dict(self, sql: str, params=()) -> dict | None:
        raise NotImplementedError

    def insert(self, table: str, fields: dict) -> None:
        marks = ", ".join("?" * len(fields))
        self.execute(f"INSERT INTO {table} ({', '.join(fields)}) VALUES ({marks})", list(fields.values()))

    def update_video(self, address: str, fields: dict) -> None:
        self.execute(f"UPDATE videos SET {_sets(fields)} WHERE address = ?", [*fields.values(), address])

    def set_attempt(self, address: str, attempt: int, **fields) -> None:
        self.execute(f"UPDATE attempts SET {_sets(fields)} WHERE address = ? AND attempt = ?",
                     [*fields.values(), address, attempt])

    def set_attempt_by_task(self, address: str, task_id: str, **fields) -> None:
        self.execute(f"UPDATE attempts SET {_sets(fields)} WHERE address = ? AND task_id = ?",
                     [*fields.values(), address, task_id])

    def set_video_if_attempt(self, address: str, attempt: int, /, **fields) -> None:  # "/": fields may hold "attempt"
        fields["updated_at"] = now()
        self.execute(f"UPDATE videos SET {_sets(fields)} WHERE address = ? AND attempt = ?",
                     [*fields.values(), address, attempt])

    def upsert_cache(self, fields: dict) -> None:
        """Insert a cache entry or replace every column of the one under its fingerprint."""
        others = ", ".join(f"{c} = excluded.{c}" for c in fields if c != "fingerprint")
        marks = ", ".join("?" * len(fields))
        self.execute(f"INSERT INTO cache ({', '.join(fields)}) VALUES ({marks}) "
                     f"ON CONFLICT (fingerprint) DO UPDATE SET {others}", list(fields.values()))


def _set_meta(cur: TxCursor, values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            cur.execute("DELETE FROM meta WHERE key = ?", [key])
        else:
            cur.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                        "SET value = excluded.value", [key, value])


def _sets(fields: dict) -> str:
    return ", ".join(f"{k} = ?" for k in fields)


class RowStore:
    """The writes of ``state.store.Store``, the same for every backend. A subclass gives
    ``_tx(bump=True, margin=0.0)``: one write transaction yielding a ``TxCursor``, the
    generation bumped when ``bump`` and rows changed, refused unless ``margin`` seconds
    of the writer's lease remain where there is a lease; and ``_intent_margin()``."""

    def _tx(self, *, bump: bool = True, margin: float = 0.0) -> AbstractContextManager[TxCursor]:
        raise NotImplementedError

    def _intent_margin(self) -> float:
        """Seconds of the writer's lease an intent demands (none without a lease)."""
        return 0.0

    # -- one paid create: intent, then its answer ----------------------------------

    def begin_attempt(self, desired: DesiredVideo, holder: str, account: str | None = None) -> int:
        """Write the intent *before* a paid create, as the vendor ``account`` it is sent
        with (docs/team.md). Returns the attempt number."""
        with self._tx(margin=self._intent_margin()) as cur:
            row = cur.one_dict("SELECT * FROM videos WHERE address = ?" + cur.for_update, [desired.address])
            previous = json.dumps({k: row[k] for k in ATTEMPT_FIELDS_OF_VIDEO}) if row else None
            prev = cur.one("SELECT MAX(attempt) FROM attempts WHERE address = ?", [desired.address])
            attempt = max((row["attempt"] or 0) if row else 0, prev[0] or 0) + 1
            fields = {
                "provider": desired.provider, "fingerprint": desired.fingerprint,
                "request": json.dumps(desired.request, ensure_ascii=False, sort_keys=True),
                "spec_file": desired.spec_file, "labels": json.dumps(desired.labels, sort_keys=True),
                "prevent_destroy": int(desired.prevent_destroy), "status": Status.PENDING.value,
                "task_id": None, "attempt": attempt, "error": None, "submitted_at": None,
                "finished_at": None, "video_url": None, "preview_image_url": None, "updated_at": now(),
                "account": account,
            }
            if row:
                cur.update_video(desired.address, fields)
            else:
                cur.insert("videos", {"address": desired.address, "output_lost": 0, **fields})
            cur.insert("attempts", {
                "address": desired.address, "attempt": attempt, "provider": desired.provider,
                "fingerprint": desired.fingerprint, "status": Status.PENDING.value,
                "holder": holder, "intent_at": now(), "previous": previous, "request": fields["request"],
                "account": account,
            })
            return attempt

    def attempt_submitted(self, address: str, attempt: int, task_id: str) -> None:
        """The create's answer arrived: the render exists and is paid for."""
        at = now()
        with self._tx() as cur:
            cur.set_attempt(address, attempt, status=Status.RENDERING.value, task_id=task_id, submitted_at=at)
            cur.set_video_if_attempt(address, attempt, status=Status.RENDERING.value, task_id=task_id, submitted_at=at)

    def attempt_failed(self, address: str, attempt: int, error: str, *, status: Status = Status.FAILED) -> None:
        """A definite answer that no render was started (bad params, quota...), or
        (with ``status=UNKNOWN``) a create whose answer never arrived."""
        with self._tx() as cur:
            cur.set_attempt(address, attempt, status=status.value, error=error)
            cur.set_video_if_attempt(address, attempt, status=status.value, error=error)

    def attempt_not_sent(self, address: str, attempt: int, error: str) -> None:
        """The create certainly never left this machine: forget the intent and put the
        video back as it was (a first attempt is removed again)."""
        with self._tx() as cur:
            cur.set_attempt(address, attempt, status="not_sent", error=error)
            row = cur.one("SELECT previous FROM attempts WHERE address = ? AND attempt = ?", [address, attempt])
            previous = json.loads(row[0]) if row and row[0] else None
            if previous is None:
                cur.execute("DELETE FROM videos WHERE address = ? AND attempt = ? AND output_file IS NULL",
                            [address, attempt])
                return
            cur.set_video_if_attempt(address, attempt, **previous)

    # -- following a render: polls, downloads, losses ------------------------------

    def record_task(self, address: str, task_id: str, status: Status, *, error: str | None = None,
                    video_url: str | None = None, preview_image_url: str | None = None,
                    finished_at: str | None = None, downloading: bool = False,
                    download_prior: str | None = None) -> bool:
        """What a poll said about the video's current task. False if the task is no
        longer the video's current one (superseded): nothing is written then. With
        ``downloading``, the GET of its output starts next: which task, and the identity
        of the file at the output path now (``download_prior``, None if none), so a file
        renamed into place by a writer killed before ``record_output`` can be adopted."""
        with self._tx() as cur:
            row = cur.one("SELECT task_id, attempt FROM videos WHERE address = ?", [address])
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
                      place: str | None = None, media: MediaFacts | None = None) -> None:
        """The current task's output is downloaded and verified (by the checkout ``place``): publish it,
        with what its decode measured (``media``: duration_s, width, height)."""
        with self._tx() as cur:
            row = cur.one("SELECT task_id, fingerprint, finished_at FROM videos WHERE address = ?", [address])
            if not row or row[0] != task_id:
                raise StateError(f"internal: output of {address} task {task_id} is not the current task")
            cur.update_video(address, {
                "status": Status.FINISHED.value, "error": None, "output_file": file, "output_sha256": sha256,
                "output_bytes": size, "output_fingerprint": row[1], "output_task_id": task_id,
                "output_lost": 0, "download_task_id": None, "download_prior": None, "output_place": place,
                **media_columns(media), "updated_at": now(), **({} if row[2] else {"finished_at": now()}),
            })

    def download_ended(self, address: str, task_id: str) -> None:
        """A download of ``task_id`` failed before any rename: nothing to adopt later."""
        with self._tx(bump=False) as cur:  # bookkeeping only: a saved plan stays valid
            cur.execute("UPDATE videos SET download_task_id = NULL, download_prior = NULL "
                        "WHERE address = ? AND download_task_id = ?", [address, task_id])

    def render_output_lost(self, address: str, task_id: str, reason: str) -> None:
        """The vendor can no longer give the output of the current task ``task_id``. If
        an older render's output is still published (a replace), it stays published and
        the new render is recorded failed (the next plan renders it again); otherwise
        the output is marked lost."""
        with self._tx() as cur:
            row = cur.one("SELECT task_id, attempt, output_file, output_task_id FROM videos WHERE address = ?",
                          [address])
            if not row or row[0] != task_id:
                return  # superseded meanwhile
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

    # -- metadata, deletes, a dead writer's intents --------------------------------

    def update_metadata(self, address: str, *, labels: dict[str, str], prevent_destroy: bool, spec_file: str) -> None:
        with self._tx() as cur:
            cur.update_video(address, {"labels": json.dumps(labels, sort_keys=True),
                                       "prevent_destroy": int(prevent_destroy), "spec_file": spec_file,
                                       "updated_at": now()})

    def record_superseded(self, address: str, task_id: str, outcome: str) -> None:
        """An old task left behind by a replace or delete: ``cancelled`` or ``abandoned``."""
        with self._tx() as cur:
            cur.set_attempt_by_task(address, task_id, outcome=outcome)

    def remove(self, address: str) -> None:
        """Forget a deleted video (its attempt history stays)."""
        with self._tx() as cur:
            cur.execute("DELETE FROM videos WHERE address = ?", [address])
            cur.execute("UPDATE attempts SET outcome = COALESCE(outcome, 'deleted') WHERE address = ?", [address])

    def recover(self) -> list[str]:
        """Turn intents left ``pending`` by a dead writer into ``unknown``. Call only
        while holding the writer lock (so no live writer owns them). Returns the addresses."""
        with self._tx() as cur:
            rows = cur.all("SELECT address, attempt FROM attempts WHERE status = 'pending' ORDER BY id")
            for address, attempt in rows:
                cur.set_attempt(address, attempt, status=Status.UNKNOWN.value, error=INTERRUPTED_CREATE)
                cur.set_video_if_attempt(address, attempt, status=Status.UNKNOWN.value, error=INTERRUPTED_CREATE)
            return [r[0] for r in rows]

    # -- a person's repairs: ``state import``, ``state forget`` (docs/team.md) -------

    def import_task(self, desired: DesiredVideo, task_id: str, status: Status, *, holder: str,
                    video_url: str | None = None, preview_image_url: str | None = None,
                    finished_at: str | None = None, account: str | None = None) -> int:
        """``task_id``, a task the vendor knows (the caller asked it), becomes the current
        render of ``desired``: recorded with the spec's fingerprint and request (the person
        vouches that the task renders it), ``status`` rendering or finished and not yet
        downloaded, so it is followed like any other. A new attempt records it in the
        history (``holder``: the import); no intent, since no create is sent. The output
        published now, if any, stays published until this task's own is recorded."""
        if status not in (Status.RENDERING, Status.FINISHED):
            raise StateError(f"internal: an imported task is rendering or finished, not {status.value}")
        at = now()
        with self._tx() as cur:
            row = cur.one_dict("SELECT * FROM videos WHERE address = ?" + cur.for_update, [desired.address])
            previous = json.dumps({k: row[k] for k in ATTEMPT_FIELDS_OF_VIDEO}) if row else None
            prev = cur.one("SELECT MAX(attempt) FROM attempts WHERE address = ?", [desired.address])
            attempt = max((row["attempt"] or 0) if row else 0, prev[0] or 0) + 1
            fields = {
                "provider": desired.provider, "fingerprint": desired.fingerprint,
                "request": json.dumps(desired.request, ensure_ascii=False, sort_keys=True),
                "spec_file": desired.spec_file, "labels": json.dumps(desired.labels, sort_keys=True),
                "prevent_destroy": int(desired.prevent_destroy), "status": status.value,
                "task_id": task_id, "attempt": attempt, "error": None, "submitted_at": at,
                "finished_at": finished_at, "video_url": video_url, "preview_image_url": preview_image_url,
                "download_task_id": None, "download_prior": None, "updated_at": at, "account": account,
            }
            if row:
                cur.update_video(desired.address, fields)
            else:
                cur.insert("videos", {"address": desired.address, "output_lost": 0, **fields})
            cur.insert("attempts", {
                "address": desired.address, "attempt": attempt, "provider": desired.provider,
                "fingerprint": desired.fingerprint, "task_id": task_id, "status": status.value,
                "holder": holder, "intent_at": at, "submitted_at": at, "finished_at": finished_at,
                "previous": previous, "request": fields["request"], "account": account,
            })
            return attempt

    def forget(self, addresses) -> None:
        """Drop the videos ``addresses`` from the state, all or none (``StateError`` naming
        those not recorded). Nothing else is touched: no output, no cache entry; their
        history stays, each attempt's outcome (where it had none) ``forgotten``."""
        wanted = sorted(set(addresses))
        with self._tx() as cur:
            missing = [a for a in wanted
                       if cur.one("SELECT 1 FROM videos WHERE address = ?" + cur.for_update, [a]) is None]
            if missing:
                raise StateError(f"not in the state: {', '.join(missing)}; nothing was forgotten")
            for address in wanted:
                cur.execute("DELETE FROM videos WHERE address = ?", [address])
                cur.execute("UPDATE attempts SET outcome = COALESCE(outcome, 'forgotten') WHERE address = ?",
                            [address])

    # -- where the outputs are (``outputs migrate``, ``state/outputs_location``) ---------

    def set_meta(self, values: dict[str, str | None]) -> None:
        """Write settings rows of ``meta`` (the outputs location, the state's identity);
        None removes one. Bookkeeping: a saved plan stays valid."""
        with self._tx(bump=False) as cur:
            _set_meta(cur, values)

    def move_outputs(self, files: dict[str, tuple[str, str | None]], meta: dict[str, str | None],
                     cache_location: str | None = None) -> None:
        """``outputs migrate``'s switch, in one transaction: each video's published output
        is now ``files[address]`` (file, place), ``meta`` says where the outputs are, and
        every cache entry's bytes are at ``cache_location`` (they were copied there).
        A video whose output changed meanwhile is impossible (the caller holds the lock)."""
        with self._tx() as cur:
            for address, (file, place) in files.items():
                cur.execute("UPDATE videos SET output_file = ?, output_place = ?, updated_at = ? WHERE address = ?",
                            [file, place, now(), address])
            if cache_location is not None:
                cur.execute("UPDATE cache SET location = ?", [cache_location])
            _set_meta(cur, meta)

    # -- the render cache's index (docs/cache.md) -----------------------------------

    def cache_put(self, fingerprint: str, *, provider: str, task_id: str | None, sha256: str, size: int,
                  video_url: str | None = None, preview_image_url: str | None = None,
                  location: str | None = None, media: MediaFacts | None = None) -> None:
        """Index a verified output under its fingerprint (replacing an older entry), its
        bytes kept at ``location`` (a bucket, or one checkout's outputs folder), with what
        its decode measured (``media``)."""
        at = now()
        with self._tx(bump=False) as cur:  # the cache is not the state a saved plan was made from
            cur.upsert_cache(dict(zip(CACHE_COLUMNS, (fingerprint, provider, task_id, sha256, size, video_url,
                                                      preview_image_url, at, at, location,
                                                      *media_columns(media).values()))))

    def cache_used(self, fingerprint: str) -> None:
        with self._tx(bump=False) as cur:
            cur.execute("UPDATE cache SET used_at = ? WHERE fingerprint = ?", [now(), fingerprint])

    def cache_drop(self, fingerprint: str) -> None:
        with self._tx(bump=False) as cur:
            cur.execute("DELETE FROM cache WHERE fingerprint = ?", [fingerprint])

    def publish_cached(self, desired: DesiredVideo, entry: dict, file: str, place: str | None = None) -> None:
        """``desired`` is served from the render cache: its output ``file`` is in place,
        recorded as finished with the cached render's task, no attempt (nothing paid)."""
        at = now()
        with self._tx() as cur:
            exists = cur.one("SELECT 1 FROM videos WHERE address = ?" + cur.for_update, [desired.address])
            prev = cur.one("SELECT MAX(attempt) FROM attempts WHERE address = ?", [desired.address])
            fields = served_from_cache(desired, entry, file, place, attempt=prev[0] or 0, at=at)
            if exists:
                cur.update_video(desired.address, fields)
            else:
                cur.insert("videos", {"address": desired.address, **fields})
            cur.execute("UPDATE cache SET used_at = ? WHERE fingerprint = ?", [at, desired.fingerprint])


# the newest finished renders, newest first, for the poll schedule's learned durations (apply/schedule.py)
RENDER_HISTORY = ("SELECT provider, request, submitted_at, finished_at FROM attempts WHERE status = 'finished'"
                  " AND submitted_at IS NOT NULL AND finished_at IS NOT NULL AND request IS NOT NULL"
                  " ORDER BY id DESC LIMIT {limit:d}")


# -- the request each attempt sent (schema 5) -----------------------------------------

def sent_requests(attempts: list, videos: list) -> dict[int, str]:
    """For attempts recorded before each kept the request it sent (schema 5): the
    request of each (``id`` -> JSON text) found by its fingerprint among the requests
    the state still knows (each video's current one, and each video as it was before
    an attempt, kept in ``previous``). ``attempts`` are ``(id, fingerprint, previous)``,
    ``videos`` ``(fingerprint, request)``. Run once, by the migration: from then on what
    an attempt sent is its own, and no later delete or edit changes it."""
    known: dict[str, str] = {}
    for _, _, previous in attempts:
        try:
            before = json.loads(previous) if previous else None
        except ValueError:
            continue
        if isinstance(before, dict) and before.get("fingerprint") and isinstance(before.get("request"), str):
            known[before["fingerprint"]] = before["request"]
    for fingerprint, request in videos:
        if fingerprint and request:
            known[fingerprint] = request
    return {id_: known[fingerprint] for id_, fingerprint, _ in attempts if fingerprint in known}


# -- reading a video row ------------------------------------------------------------

_TEXT = (str, type(None))
# Columns of a video row and the Python types a sound row holds in them (None: NULL).
_ROW_TYPES = {
    "address": (str,), "provider": (str,), "fingerprint": (str,), "status": (str,), "spec_file": _TEXT,
    "request": _TEXT, "labels": _TEXT, "prevent_destroy": (int, type(None)), "task_id": _TEXT,
    "attempt": (int, type(None)), "error": _TEXT, "submitted_at": _TEXT, "finished_at": _TEXT,
    "video_url": _TEXT, "preview_image_url": _TEXT, "output_file": _TEXT, "output_sha256": _TEXT,
    "output_bytes": (int, type(None)), "output_fingerprint": _TEXT, "output_task_id": _TEXT,
    "output_lost": (int, type(None)), "account": _TEXT,
    "output_duration_s": (float, int, type(None)), "output_width": (int, type(None)),
    "output_height": (int, type(None)),
}


def target_full(where) -> StateError:
    """``state migrate`` into a state that holds one: a copy never merges nor overwrites."""
    return StateError(f"the target {where} already holds a state; migrate only into an empty one")


def migration_interrupted(where, partial: str) -> StateError:
    """Any command on a state a killed ``state migrate`` was filling (docs/team.md): it is
    not an empty state (a plan on it would render everything again, paid), and the
    rerun of the migration completes it."""
    return StateError(f"{where}: a `reconciler state migrate` into this state was interrupted ({partial}); "
                      f"run the same `reconciler state migrate --to ...` again to complete the copy, or point "
                      f"`state` back at its source, which is unchanged. Nothing was changed.")


def to_recorded(row: dict, where) -> RecordedVideo:
    """A video row as data; StateError naming the state (``where``), the row and the
    column for a value edited into something that does not parse (never a traceback,
    never a silent default)."""
    address = row.get("address")

    def bad(column: str, why: str) -> StateError:
        return StateError(f"{where}: the state is damaged: video {address!r}, column {column}: {why}; "
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
        output_lost=bool(row["output_lost"]), output_place=row.get("output_place"), account=row.get("account"),
        output_duration_s=row.get("output_duration_s"), output_width=row.get("output_width"),
        output_height=row.get("output_height"),
    )


def media_columns(media: MediaFacts | None) -> dict:
    """A video row's measured-media columns from a decode's facts (all NULL without one)."""
    if media is None:
        return {"output_duration_s": None, "output_width": None, "output_height": None}
    return {"output_duration_s": round(float(media.duration_s), 3), "output_width": media.width,
            "output_height": media.height}
