"""`watch --git-ref REF`: the daemon's inputs as committed at REF, not the working tree.

Why: an editor that saves a half-typed script, or a ``git checkout`` of another local
branch, must never start a paid render or delete one. Like Argo CD and Flux, the
daemon then reconciles a committed revision only. Everything about git goes through
``git`` itself (``rev-parse``, ``archive``): no parsing of git's object store here.

How: ``GitRef.snapshot()`` resolves REF to a commit and materialises that commit's tree
into a private folder under the state folder (``<state dir>/git-ref/<commit>``; built
in a temp folder, then renamed; only the current one is kept). The daemon loads
config, vars, specs and decks from that folder; state, manifest and outputs stay in
the project. Paths recorded in the state stay project-relative (``specs/x.yaml``)
because they are taken relative to the snapshot's root, which mirrors the project's.

When to look again: ``run`` watches the files a ref move touches (``HEAD``,
``packed-refs``, ``refs/``) and also asks ``git rev-parse`` every ``POLL`` seconds,
since a ref can move without an event this process sees; either pokes the daemon,
which calls ``snapshot()`` again (a no-op while the commit is the same).
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

import watchfiles

from reconciler.errors import ConfigError
from reconciler.util.aio import first_of

POLL = 2.0  # seconds between `git rev-parse` checks of REF
GIT_TIMEOUT = 60.0  # seconds any one git command may take
SNAPSHOTS = "git-ref"  # folder under the state folder holding the current snapshot
CURRENT = "current"  # the link in it naming the current snapshot


class GitError(ConfigError):
    """git could not resolve or read REF (not a repository, no such ref, git missing)."""


class GitRef:
    def __init__(self, root: Path, ref: str, state_dir: Path):
        self.root, self.ref = root, ref
        self.folder = state_dir / SNAPSHOTS
        self.commit: str | None = None  # the commit of the current snapshot
        try:
            self.common_dir = Path(self._git("rev-parse", "--path-format=absolute", "--git-common-dir").strip())
        except GitError as exc:
            raise GitError(f"--git-ref {ref}: {root} is not inside a git repository ({exc})") from None
        self.git_dir = Path(self._git("rev-parse", "--path-format=absolute", "--git-dir").strip())
        # The project may be a folder inside the repository: its tree is `<commit>:<prefix>`.
        self.prefix = self._git("rev-parse", "--show-prefix").strip()
        self.resolve()  # REF must exist at startup: a clear error, not a daemon that waits

    def _git(self, *args: str, binary: bool = False):
        try:
            done = subprocess.run(["git", "-C", str(self.root), *args], capture_output=True,
                                  timeout=GIT_TIMEOUT, text=not binary, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise GitError("--git-ref needs the `git` program, which is not installed") from None
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} took over {GIT_TIMEOUT:g}s") from None
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace") if binary else done.stderr
            raise GitError(f"git {args[0]} failed in {self.root}: {err.strip() or done.returncode}")
        return done.stdout

    def resolve(self) -> str:
        """The commit REF names now."""
        try:
            return self._git("rev-parse", "--verify", "--end-of-options", f"{self.ref}^{{commit}}").strip()
        except GitError as exc:
            raise GitError(f"--git-ref {self.ref}: not a commit in the repository at {self.root} ({exc})") from None

    def describe(self, commit: str) -> str:
        """``abc1234 subject`` for the log."""
        try:
            return self._git("log", "-1", "--format=%h %s", commit, "--").strip()
        except GitError:
            return commit[:12]

    @property
    def current(self) -> Path:
        """A link to the current snapshot, swapped atomically: where decks are read at apply time."""
        return self.folder / CURRENT

    def snapshot(self) -> tuple[Path, bool]:
        """The folder holding the project as committed at REF now, and whether that
        commit differs from the last call's (True on the first call)."""
        commit = self.resolve()
        target = self.folder / commit
        if commit == self.commit and target.is_dir():
            return target, False
        if not target.is_dir():
            self._materialise(commit, target)
        link = self.folder / f".tmp-{CURRENT}"
        link.unlink(missing_ok=True)
        link.symlink_to(commit, target_is_directory=True)
        os.replace(link, self.current)
        for old in self.folder.iterdir():  # keep only the current snapshot (and no stray temp folders)
            if old.name not in (commit, CURRENT):
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() and not old.is_symlink() else old.unlink()
        self.commit = commit
        return target, True

    def _materialise(self, commit: str, target: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tree = f"{commit}:{self.prefix}" if self.prefix else commit
        tar = self._git("archive", "--format=tar", tree, binary=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.folder))
        try:
            try:
                with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
                    archive.extractall(tmp, filter=_inside)
            except tarfile.ReadError as exc:
                if self._git("ls-tree", tree).strip():  # an empty tree is an empty tar, not an error
                    raise GitError(f"git archive {tree[:12]}: unreadable output ({exc})") from None
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def watched(self) -> tuple[list[str], list[str]]:
        """Folders whose events may mean REF moved: HEAD and packed-refs, and refs/."""
        folders = {str(self.git_dir), str(self.common_dir)}
        refs = self.common_dir / "refs"
        return sorted(folders), [str(refs)] if refs.is_dir() else []

    async def run(self, stop: asyncio.Event, poke: Callable[[], None], on_error: Callable[[str], None]) -> None:
        """Poke when REF may have moved, until ``stop``: ref file events, and a poll."""
        tasks = [asyncio.create_task(self._poll(stop, poke)), asyncio.create_task(self._events(stop, poke, on_error))]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _poll(self, stop: asyncio.Event, poke: Callable[[], None]) -> None:
        while not stop.is_set():
            await first_of(stop, timeout=POLL)
            try:
                commit = await asyncio.to_thread(self.resolve)
            except GitError:
                commit = None  # REF vanished for now: the reconcile logs it
            if commit != self.commit:
                poke()

    async def _events(self, stop: asyncio.Event, poke: Callable[[], None], on_error: Callable[[str], None]) -> None:
        flat, recursive = self.watched()

        async def one(paths: list[str], deep: bool) -> None:
            async for _ in watchfiles.awatch(*paths, recursive=deep, stop_event=stop, watch_filter=_ref_files,
                                             step=20, debounce=400, ignore_permission_denied=True):
                poke()

        try:
            await asyncio.gather(one(flat, False), *([one(recursive, True)] if recursive else []))
        except Exception as exc:  # noqa: BLE001 - the poll still runs
            on_error(f"watching git refs stopped: {exc}; still polling `git rev-parse` every {POLL:g}s")


def _inside(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """tarfile's ``data`` filter, skipping (not failing on) a member it refuses: a
    committed link pointing out of the project is left out, and a spec naming it gets
    the usual "file not found" error."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None


def _ref_files(change: watchfiles.Change, path: str) -> bool:
    name = os.path.basename(path)
    return not name.endswith(".lock") and (name in ("HEAD", "packed-refs", "FETCH_HEAD")
                                           or f"{os.sep}refs{os.sep}" in path)
