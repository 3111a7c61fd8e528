"""The daemon's desired state: the specs as loaded, but never worse than the last good.

Why: ``apply`` refuses to run while any spec is broken, but ``watch`` must keep going
while someone types. A half-saved file that fails to parse must not look like
"these videos were deleted". So the daemon remembers, per spec file, the list of
videos it last loaded cleanly, and resolves each load like this:

- a file that loaded cleanly: its videos, and they become its last good list;
- a broken file (its own errors, or named by a cross-file error such as a duplicate
  address) with a last good list: that list, unchanged;
- a broken file without one (broken since the daemon started): every video recorded
  in state with that ``spec_file`` is *held*: desired = recorded, and the daemon
  changes nothing about it until the file is valid again;
- a file that is gone (deleted, not broken): forgotten; its videos really are deleted
  (the plan's mass-delete guard still catches a whole folder disappearing).

An error that names no spec file (a broken vars file) makes every template
(``*.j2``) count as broken, whatever the loader said about it: templates are the files
that depend on the variables. Plain YAML files go on as usual.
A video defined in a clean file always wins over a stale copy held for a broken file
(it was moved, and the old file broke in the same edit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.errors import Diagnostic
from reconciler.model import DesiredVideo, RecordedVideo

TEMPLATE_SUFFIXES = (".yaml.j2", ".yml.j2")


@dataclass(frozen=True)
class Resolved:
    """One cycle's desired state, and why parts of it are not the specs as written."""

    videos: dict[str, DesiredVideo]
    held: frozenset[str] = frozenset()  # addresses kept as recorded: plan no change for them
    broken: dict[str, list[Diagnostic]] = field(default_factory=dict)  # spec file -> its problems
    stale: frozenset[str] = frozenset()  # broken files served from their last good list
    general: tuple[Diagnostic, ...] = ()  # problems outside any spec file (a vars file)


def as_desired(r: RecordedVideo) -> DesiredVideo:
    """A recorded video as if the specs asked for exactly what was rendered."""
    return DesiredVideo(address=r.address, provider=r.provider, request=r.request or {},
                        fingerprint=r.fingerprint, spec_file=r.spec_file, labels=dict(r.labels),
                        prevent_destroy=r.prevent_destroy)


class LastGood:
    """Per-file memory of the last clean load; ``resolve`` one SpecLoad at a time."""

    def __init__(self) -> None:
        self.files: dict[str, list[DesiredVideo]] = {}

    def resolve(self, load, recorded: dict[str, RecordedVideo]) -> Resolved:
        """Desired videos for this load (a ``specs.SpecLoad``) against ``recorded``."""
        known = set(load.videos_by_file) | set(load.errors_by_file) | set(self.files)
        broken: dict[str, list[Diagnostic]] = {f: list(d) for f, d in load.errors_by_file.items() if d}
        general = []
        for diag in load.errors:
            if diag.path in known:
                broken.setdefault(diag.path, []).append(diag)
            else:
                general.append(diag)
        if general:
            for path in known:
                if path.endswith(TEMPLATE_SUFFIXES) and path not in broken:
                    broken[path] = [Diagnostic(path, 0, "", "not loaded: the vars files have errors")]
        clean = {f: v for f, v in load.videos_by_file.items() if f not in broken}
        videos: dict[str, DesiredVideo] = {}
        held: set[str] = set()
        stale: set[str] = set()
        orphans_of = _by_spec_file(recorded, set(broken) - set(self.files))
        for path in sorted(broken):
            if path in self.files:
                stale.add(path)
                videos.update((v.address, v) for v in self.files[path])
            else:
                for r in orphans_of.get(path, ()):
                    videos[r.address] = as_desired(r)
                    held.add(r.address)
        for path, file_videos in clean.items():
            for v in file_videos:
                videos[v.address] = v
                held.discard(v.address)
        self.files = clean | {f: self.files[f] for f in stale}  # the loader's lists: never changed after
        return Resolved(videos, frozenset(held), broken, frozenset(stale), tuple(general))


def _by_spec_file(recorded: dict[str, RecordedVideo], files: set[str]) -> dict[str, list[RecordedVideo]]:
    out: dict[str, list[RecordedVideo]] = {}
    if files:
        for r in recorded.values():
            if r.spec_file in files:
                out.setdefault(r.spec_file, []).append(r)
    return out
