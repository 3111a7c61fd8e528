"""File events for the daemon: which paths to watch, which events matter.

Why its own module: the daemon is level-based (ARCHITECTURE habit 12), so an event
carries one bit, "look again"; all the care is in *not missing* one and *not waking*
for the daemon's own writes. The inputs of a reconcile are the spec files (anywhere
under the specs folder, including folders created later), the vars files,
``reconciler.yaml`` and the PPT decks the specs refer to. ``watchfiles`` can only watch
paths that exist and takes one ``recursive`` flag per watcher, so there are two:

- the specs folder, recursively (inotify adds new subfolders as they appear);
- non-recursively, the folders holding every other input, and the parent of the
  specs folder, so that the folder itself appearing or vanishing (a ``git checkout``)
  is seen.

The state and output folders are never watched: they are the daemon's own writes.
When the set of folders changes (the specs folder came back, a spec names a deck in a
new folder) the watchers restart; the caller then looks again, which covers any event
lost in between.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Callable, Iterable

import watchfiles

from reconciler.util import backoff
from reconciler.util.aio import first_of

SPEC_SUFFIXES = (".yaml", ".yml", ".yaml.j2", ".yml.j2")
STEP_MS = 20  # how long a burst must be quiet before it is reported (watchfiles `step`)
DEBOUNCE_MS = 400  # longest a continuous burst is held back (watchfiles `debounce`)
# A watcher that died is restarted after 2, 4, 8 ... 60 s (one local process: no jitter).
RESTART = backoff.Exponential(base=2.0, cap=60.0, jitter=0)


def _existing(path: Path) -> Path:
    """``path``, or its nearest ancestor that exists."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


class Targets:
    """What to watch for one set of inputs, and the filter deciding which events count."""

    def __init__(self, specs_dir: Path, files: Iterable[Path], ignore: Iterable[Path] = ()):
        self.specs_dir = specs_dir
        self.files = frozenset(os.path.normpath(p) for p in files)
        self._specs = os.path.normpath(specs_dir)
        self._specs_prefix = self._specs + os.sep
        # The daemon's own writes (state, outputs), in case they lie inside the specs
        # folder; never a folder that holds the specs folder itself.
        self._ignore = tuple(d + os.sep for d in map(os.path.normpath, ignore)
                             if not (self._specs + os.sep).startswith(d + os.sep))
        self.recursive = (self._specs,) if specs_dir.is_dir() else ()
        # Files inside the recursively watched specs folder (all spec files, most
        # decks) need no flat watcher; the others need one on their folder.
        outside = {os.path.dirname(f) for f in self.files if not (self.recursive and self._inside_specs(f))}
        flat = {str(_existing(specs_dir.parent))} | {str(_existing(Path(d))) for d in outside}
        self.flat = tuple(sorted(d for d in flat if not (self.recursive and self._inside_specs(d))))

    @property
    def key(self) -> tuple:
        return (self.recursive, self.flat)

    def _inside_specs(self, path: str) -> bool:
        return path == self._specs or path.startswith(self._specs_prefix)

    def relevant(self, change: watchfiles.Change, path: str) -> bool:
        """True if an event on ``path`` may change what a reconcile would do."""
        path = os.path.normpath(path)
        if path in self.files:
            return True
        if path.startswith(self._ignore):
            return False
        if self._inside_specs(path):
            name = os.path.basename(path)
            hidden = os.sep + "." in path[len(self._specs):]  # hidden file or folder (.git/...)
            if hidden or name.endswith("~"):
                return False  # editor temp files (.launch.yaml.swp, launch.yaml~); specs skips these too
            if name.endswith(SPEC_SUFFIXES):
                return True
            # A folder created, moved or removed (its spec files go with it); another
            # kind of file that still exists (a note, an image) changes nothing.
            return not os.path.isfile(path)
        # The specs folder itself, or one of its ancestors, appeared or vanished.
        return self._specs.startswith(path + os.sep)


class FileWatcher:
    """Runs the watchers for the current ``Targets`` and calls ``on_change(paths)`` for
    each relevant batch of events, with the paths they named, or ``on_change(None)``
    when events may have been missed (a restart); ``retarget`` swaps the targets."""

    def __init__(self, targets: Targets, on_change: Callable[[set[str] | None], None],
                 on_error: Callable[[str], None]):
        self.targets = targets
        self._on_change = on_change
        self._on_error = on_error
        self._restart = asyncio.Event()
        self._failures = 0  # watcher failures in a row: the retry waits longer each time

    def retarget(self, targets: Targets) -> bool:
        """Use ``targets`` from now on. True if the watchers had to restart."""
        restart = targets.key != self.targets.key
        self.targets = targets
        if restart:
            self._restart.set()
        return restart

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until ``stop`` is set."""
        while not stop.is_set():
            self._restart = asyncio.Event()
            targets = self.targets
            halt = asyncio.Event()
            tasks = [asyncio.create_task(self._watch(paths, recursive, halt))
                     for paths, recursive in ((targets.recursive, True), (targets.flat, False)) if paths]
            waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._restart.wait())]
            await asyncio.wait(waiters + tasks, return_when=asyncio.FIRST_COMPLETED)
            halt.set()
            for w in waiters:
                w.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not stop.is_set() and not self._restart.is_set():
                # A watcher died (logged): retry later, not in a spin; the daemon's
                # periodic full re-check covers the files meanwhile.
                self._failures += 1
                pause = RESTART.delay(self._failures - 1)
                await first_of(stop, self._restart, timeout=pause)
            if not stop.is_set():
                self._on_change(None)  # events may have been missed while restarting

    async def _watch(self, paths: tuple[str, ...], recursive: bool, halt: asyncio.Event) -> None:
        try:
            async for changes in watchfiles.awatch(*paths, watch_filter=self._filter, recursive=recursive,
                                             stop_event=halt, step=STEP_MS, debounce=DEBOUNCE_MS,
                                             ignore_permission_denied=True):
                self._failures = 0
                self._on_change({path for _, path in changes})
        except Exception as exc:  # a folder vanished under the watcher, too many inotify watches, ...
            self._on_error(f"file watcher on {', '.join(paths)} stopped: {exc}; trying again in a while "
                           "(the periodic re-check still runs)")

    def _filter(self, change: watchfiles.Change, path: str) -> bool:
        return self.targets.relevant(change, path)
