"""Spec files a long-running process need not read again: the daemon's per-file memo.

Why: ``watch`` loads the specs again on every file event and every timer tick. With
10,000 spec files, reading, hashing and decoding each one per cycle (even from the
spec cache) made a save take ~0.8 s to reach the vendor. The memo keeps, per spec
file, the result of its last clean load with the file's stat signature (mtime, ctime,
size, inode, device), and the loader reuses that result while both hold:

- the stat signature is unchanged; it is taken *before* the file is read, so a write
  racing the read changes it and the next load reads the file again;
- no file event has named the path since (``changed``): an editor's write that keeps
  the size within one timestamp tick still produces an event.

Whatever may have been missed (a watcher restart, the periodic full re-check) calls
``forget``. Only clean results without decks are kept: a deck is re-checked on every
load, and a broken file is read again to report its errors. Each result is kept with
its context (the loader's salt: code, config; for a template, the variables), so a
changed ``reconciler.yaml`` or vars file is never answered from the memo.

Threads: the daemon calls ``changed`` and ``forget`` on its event loop while a load
runs in a worker thread; one lock makes each mark land either before a load takes
the marks (that load reads the file) or after (the next one does).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Iterable, TypeVar

Result = TypeVar("Result")


class SpecMemo:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple] = {}  # path -> (stat signature, context, result)
        self._next: dict[str, tuple] = {}  # the entries seen by the load in progress
        self._marked: set[str] = set()  # paths named by events since the last load began
        self._stale: set[str] = set()  # the marks the load in progress honours
        self._forgotten = 0  # how many times ``forget`` was called
        self._began_at = 0  # ... when the load in progress began
        self._listing: list[str] = []  # the spec files of the last load
        self._paths: dict[str, tuple[Path, str]] = {}  # full path -> (Path, project-relative name)

    def changed(self, paths: Iterable[str]) -> None:
        """File events named ``paths``: read them again on the next load."""
        with self._lock:
            self._marked.update(os.path.normpath(p) for p in paths)

    def forget(self) -> None:
        """Read every file again on the next load (also when a load is under way)."""
        with self._lock:
            self._entries = {}
            self._forgotten += 1

    def begin(self) -> None:
        """A load starts: it honours the marks made so far."""
        with self._lock:
            self._stale, self._marked = self._marked, set()
            self._next = {}
            self._began_at = self._forgotten

    def finish(self) -> None:
        """The load is complete: keep only the files it saw, unless ``forget`` was
        called meanwhile (then the next load reads everything)."""
        with self._lock:
            kept = self._next if self._began_at == self._forgotten else {}
            self._entries, self._next, self._stale = kept, {}, set()

    def paths(self, found: list[str], relate: Callable[[list[Path]], list[str]]) -> tuple[list[Path], list[str]]:
        """The Path and project-relative name (``relate``) of each file ``found``, those
        of the last load reused: building 10,000 Paths every cycle costs ~40 ms."""
        known = self._paths
        new = [full for full in found if full not in known]
        if new:
            made = [Path(full) for full in new]
            known.update(zip(new, zip(made, relate(made))))
        pairs = [known[full] for full in found]
        self._paths = dict(zip(found, pairs))
        return [path for path, _ in pairs], [rel for _, rel in pairs]

    def listing_changed(self, rels: list[str]) -> bool:
        """True if the spec files are not those of the last load (then the spec cache
        is pruned; 10,000 unchanged files need no pruning every cycle)."""
        changed, self._listing = rels != self._listing, rels
        return changed

    def load(self, path: str, context: tuple, read: Callable[[], Result], keep: Callable[[Result], bool]) -> Result:
        """The remembered result for ``path`` if still good, else ``read()`` (kept when
        ``keep(result)``)."""
        try:
            st = os.stat(path)
        except OSError:
            return read()  # the loader reports it
        signature = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)
        entry = self._entries.get(path)
        if entry is not None and entry[0] == signature and entry[1] == context and path not in self._stale:
            self._next[path] = entry
            return entry[2]
        result = read()
        if keep(result):
            self._next[path] = (signature, context, result)
        return result
