"""Problems between spec files, checked over the files that loaded: an address defined
twice, and output paths that collide (docs/specs.md). Each is reported at every place
it occurs, naming the others; the common case (none) is checked in C first.
"""

from __future__ import annotations

from reconciler.errors import Diagnostic
from reconciler.model import DesiredVideo

_OUTPUT_SUFFIX = ".mp4"  # outputs/<address>.mp4 (docs/specs.md)


def duplicates(videos_by_file: dict[str, list[DesiredVideo]]) -> list[Diagnostic]:
    """A duplicate address is reported at each of its places, each naming the other."""
    if _all_distinct(videos_by_file):
        return []
    places: dict[str, list[DesiredVideo]] = {}
    for rel in sorted(videos_by_file):
        for video in videos_by_file[rel]:
            places.setdefault(video.address, []).append(video)
    out = []
    for address, videos in places.items():
        for video in videos if len(videos) > 1 else ():
            others = ", ".join(f"{o.spec_file}:{o.line}" for o in videos if o is not video)
            out.append(Diagnostic(video.spec_file, video.line, f"videos.{address}",
                                  f"duplicate address: also defined at {others}"))
    return out


def _all_distinct(videos_by_file: dict[str, list[DesiredVideo]]) -> bool:
    """The common case, checked in C: no address is defined twice."""
    total = sum(map(len, videos_by_file.values()))
    return len({v.address for videos in videos_by_file.values() for v in videos}) == total


def collisions(videos_by_file: dict[str, list[DesiredVideo]]) -> list[Diagnostic]:
    """Addresses whose output files collide (docs/specs.md): one's file would have to be a
    folder of the other's (``c`` and ``c.mp4/x``), or they differ only in letter case
    (one file on a case-insensitive disk). Reported at each place, naming the other."""
    if _no_collision(videos_by_file):
        return []
    videos = sorted((v for vs in videos_by_file.values() for v in vs), key=lambda v: v.address)
    by_file: dict[str, list[int]] = {}  # casefolded output file -> indexes into videos
    for i, video in enumerate(videos):
        by_file.setdefault((video.address + _OUTPUT_SUFFIX).casefold(), []).append(i)
    pairs = set()
    for same in by_file.values():
        if len(same) > 1:
            pairs |= {(i, j, "case") for i in same for j in same if videos[i].address < videos[j].address}
    for j, video in enumerate(videos):
        if _OUTPUT_SUFFIX not in video.address.casefold().rpartition("/")[0]:
            continue  # only a folder named like an output file can be one
        parts = video.address.casefold().split("/")
        for n in range(1, len(parts)):
            pairs |= {(i, j, "folder") for i in by_file.get("/".join(parts[:n]), ())}
    out = []
    for i, j, kind in sorted(pairs):
        a, b = videos[i], videos[j]
        if kind == "case":
            why = "the two differ only in letter case, so their output files are one file on a case-insensitive disk"
        else:
            why = f"{a.address}{_OUTPUT_SUFFIX} would have to be both the output file of {a.address} and a folder of {b.address}'s"
        for here, there in ((a, b), (b, a)):
            out.append(Diagnostic(here.spec_file, here.line, f"videos.{here.address}",
                                  f"output path collides with {there.address} ({there.spec_file}:{there.line}): {why}"))
    return out


def _no_collision(videos_by_file: dict[str, list[DesiredVideo]]) -> bool:
    """The common case, checked in C: the addresses stay distinct when casefolded, and
    none holds ``.mp4`` at all (so no folder part of one can be another's output file)."""
    addresses = [v.address for videos in videos_by_file.values() for v in videos]
    folded = "\n".join(addresses).casefold()  # no address holds a newline (address_problem)
    return _OUTPUT_SUFFIX not in folded and len(set(folded.split("\n"))) == len(addresses)

