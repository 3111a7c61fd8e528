"""The simulator's memory: tasks, uploaded PPTs and the call ledger in SQLite.

Kept in ``<state_dir>/sim.db`` so tasks outlive the process: ``apply --no-wait`` in one
process and ``refresh`` in another (each with its own in-thread simulator, maybe on
another port) see the same tasks. One connection per process guarded by a lock (the
HTTP server runs one thread per connection), WAL, short autocommit statements, and a
5 s busy timeout so two processes can share the file. A task stores only its creation
time and render time; its state is computed on demand (lifecycle.py), so it advances
while no process runs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB_NAME = "sim.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    vendor TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    render_seconds REAL NOT NULL,
    request TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    fail_reason TEXT,
    cancelled_at REAL,
    downloads INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (vendor, task_id)
);
CREATE TABLE IF NOT EXISTS xingyun_ids (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ppt_files (
    name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    slides INTEGER NOT NULL,
    fail_reason TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    vendor TEXT NOT NULL,
    kind TEXT NOT NULL,
    task_id TEXT,
    ok INTEGER NOT NULL,
    at REAL NOT NULL,
    fingerprint TEXT,
    http_status INTEGER,
    error_code INTEGER,
    fault TEXT
);
"""


@dataclass(frozen=True)
class Task:
    vendor: str
    task_id: str
    created_at: float
    render_seconds: float
    request: dict
    fingerprint: str
    fail_reason: str | None
    cancelled_at: float | None
    downloads: int


@dataclass(frozen=True)
class PptFile:
    name: str
    sha256: str
    size: int
    slides: int
    fail_reason: str | None


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=5.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def _task(row: sqlite3.Row | None) -> Task | None:
    if row is None:
        return None
    return Task(
        vendor=row["vendor"], task_id=row["task_id"], created_at=row["created_at"],
        render_seconds=row["render_seconds"], request=json.loads(row["request"]),
        fingerprint=row["fingerprint"], fail_reason=row["fail_reason"],
        cancelled_at=row["cancelled_at"], downloads=row["downloads"],
    )


def _ledger_entry(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "seq": row["seq"], "vendor": row["vendor"], "kind": row["kind"], "task_id": row["task_id"],
        "ok": bool(row["ok"]), "at": row["at"], "fingerprint": row["fingerprint"],
        "http_status": row["http_status"], "error_code": row["error_code"], "fault": row["fault"],
    }


class Store:
    """All SQL of the simulator. Methods are short transactions; safe across threads."""

    def __init__(self, state_dir: Path):
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / DB_NAME
        self._lock = threading.Lock()
        self._conn = _connect(self.path)
        with self._lock:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- tasks -------------------------------------------------------------------------
    def next_xingyun_id(self, now: float) -> str:
        """A fresh increasing integer id, never reused (AUTOINCREMENT survives reset)."""
        with self._lock:
            cur = self._conn.execute("INSERT INTO xingyun_ids (created_at) VALUES (?)", (now,))
            return str(cur.lastrowid)

    def add_task(self, *, vendor: str, task_id: str, created_at: float, render_seconds: float,
                 request: dict, fingerprint: str, fail_reason: str | None) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO tasks (vendor, task_id, created_at, render_seconds, request, fingerprint,"
                " fail_reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (vendor, task_id, created_at, render_seconds,
                 json.dumps(request, ensure_ascii=False, sort_keys=True), fingerprint, fail_reason),
            )

    def add_task_within_quota(self, quota: int | None, **task: Any) -> bool:
        """Insert a Unisound task unless ``quota`` tasks exist already (atomic)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if quota is not None:
                    (count,) = self._conn.execute(
                        "SELECT count(*) FROM tasks WHERE vendor = ?", (task["vendor"],)
                    ).fetchone()
                    if count >= quota:
                        self._conn.execute("ROLLBACK")
                        return False
                self._conn.execute(
                    "INSERT INTO tasks (vendor, task_id, created_at, render_seconds, request, fingerprint,"
                    " fail_reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (task["vendor"], task["task_id"], task["created_at"], task["render_seconds"],
                     json.dumps(task["request"], ensure_ascii=False, sort_keys=True),
                     task["fingerprint"], task["fail_reason"]),
                )
                self._conn.execute("COMMIT")
                return True
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def get_task(self, vendor: str, task_id: str) -> Task | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM tasks WHERE vendor = ? AND task_id = ?", (vendor, task_id)
            ).fetchone()
        return _task(row)

    def all_tasks(self) -> list[Task]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM tasks ORDER BY created_at, task_id").fetchall()
        return [_task(r) for r in rows]

    def set_cancelled(self, vendor: str, task_id: str, at: float) -> bool:
        """Mark cancelled unless already so; True when this call did it."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE tasks SET cancelled_at = ? WHERE vendor = ? AND task_id = ? AND cancelled_at IS NULL",
                (at, vendor, task_id),
            )
            return cur.rowcount == 1

    def count_download(self, vendor: str, task_id: str, *, once: bool) -> bool:
        """Count a download; with ``once`` only the first one succeeds (atomic)."""
        sql = "UPDATE tasks SET downloads = downloads + 1 WHERE vendor = ? AND task_id = ?"
        if once:
            sql += " AND downloads = 0"
        with self._lock:
            return self._conn.execute(sql, (vendor, task_id)).rowcount == 1

    # -- PPT uploads -------------------------------------------------------------------
    def add_ppt(self, ppt: PptFile, now: float) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO ppt_files (name, sha256, size, slides, fail_reason, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (ppt.name, ppt.sha256, ppt.size, ppt.slides, ppt.fail_reason, now),
            )

    def get_ppt(self, name: str) -> PptFile | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM ppt_files WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return PptFile(row["name"], row["sha256"], row["size"], row["slides"], row["fail_reason"])

    # -- ledger ------------------------------------------------------------------------
    def record(self, *, vendor: str, kind: str, task_id: str | None, ok: bool,
               fingerprint: str | None, http_status: int | None, error_code: int | None,
               fault: str | None, at: float | None = None) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO ledger (vendor, kind, task_id, ok, at, fingerprint, http_status, error_code, fault)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (vendor, kind, task_id, int(ok), time.time() if at is None else at, fingerprint,
                 http_status, error_code, fault),
            )

    def ledger(self, since: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM ledger WHERE seq > ? ORDER BY seq", (since,)).fetchall()
        return [_ledger_entry(r) for r in rows]

    def reset(self) -> None:
        """Forget tasks, uploads and the ledger (ids keep increasing)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            for table in ("tasks", "ppt_files", "ledger"):
                self._conn.execute(f"DELETE FROM {table}")
            self._conn.execute("COMMIT")


def read_ledger(state_dir: Path) -> list[dict[str, Any]]:
    """Every call recorded under ``state_dir``, oldest first ([] when there is no sim.db).

    Entry: ``{"seq", "vendor", "kind", "task_id", "ok", "at", "fingerprint",
    "http_status", "error_code", "fault"}``."""
    path = Path(state_dir) / DB_NAME
    if not path.exists():
        return []
    conn = _connect(path)
    try:
        try:
            rows = conn.execute("SELECT * FROM ledger ORDER BY seq").fetchall()
        except sqlite3.OperationalError:
            return []
        return [_ledger_entry(r) for r in rows]
    finally:
        conn.close()
