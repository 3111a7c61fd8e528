"""One card per video: what the review page shows, worked out from the state alone.

Why a module of its own: deciding what a reviewer sees (which status, what needs a
look first, which file the player plays, what each paid render was for) is plain data
work that a test can check without a browser or an HTML parser; ``page`` only lays it
out. No network, no specs: the script shown is the request the video was rendered
from, so it always matches the video beside it.

Videos are those of the manifest (``state.manifest``: every video ever submitted).
Each gets a *display status*: its recorded status, except ``stalled`` (unfinished for
past its vendor's ``stall_after``: ``state.overdue``) and ``lost`` (its output is gone: recorded
lost, or the local file is missing or has another size). Failed, unknown, stalled and
lost videos come first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from markupsafe import Markup

from reconciler import model
from reconciler.gallery import costs, script
from reconciler.model import RecordedVideo, Status
from reconciler.outputs import open_outputs, rules
from reconciler.state import manifest, overdue
from reconciler.state.store import IMPORT_HOLDER

ATTENTION = ("failed", "unknown", "stalled", "lost")  # shown first, in this order
ORDER = (*ATTENTION, "rendering", "pending", "cancelled", "finished")


@dataclass(frozen=True)
class Attempt:
    """One row of a video's history: a create that was sent (or may have been)."""

    number: int
    when: str
    status: str
    task_id: str
    paid: str  # "paid" | "maybe paid" | "not paid"
    why: str
    outcome: str  # cancelled / abandoned / deleted, or ""
    error: str


@dataclass(frozen=True)
class Card:
    address: str
    provider: str  # the name in specs (for the filter)
    provider_display: str
    status: str  # display status (ORDER)
    recorded_status: str
    note: str  # a sentence when something needs explaining ("" if none)
    src: str | None  # what the player plays (relative path or URL), or None
    src_kind: str  # "local" | "object" | "vendor" | ""
    local_file: Path | None  # absolute path of a local output (for its poster)
    sha256: str | None
    size: int | None
    task_id: str
    spec_file: str
    labels: tuple[str, ...]  # "key=value"
    script: Markup
    updated: str
    history: tuple[Attempt, ...] = ()
    poster: str | None = None

    @property
    def attention(self) -> bool:
        return self.status in ATTENTION

    @property
    def paid_renders(self) -> int:
        return sum(a.paid == "paid" for a in self.history)

    @property
    def maybe_paid_renders(self) -> int:
        """Creates whose answer never came: perhaps paid, never counted as spent."""
        return sum(a.paid == "maybe paid" for a in self.history)


def build_cards(config, recorded: dict[str, RecordedVideo], attempts: list[dict], out_dir: Path,
                now: dt.datetime) -> list[Card]:
    """Cards for every video of the manifest, those needing a look first, then by address."""
    where = open_outputs(config)
    seen = where.notice_missing(recorded)  # a file deleted by hand reads as lost
    by_address: dict[str, list[dict]] = {}
    for row in attempts:
        by_address.setdefault(row["address"], []).append(row)
    cards = [_card(config, video, by_address.get(address, []), out_dir, now, where)
             for address, video in seen.items() if manifest.in_manifest(video)]
    return sorted(cards, key=lambda c: (ORDER.index(c.status), c.address))


def with_posters(cards: list[Card], posters: dict[str, str]) -> list[Card]:
    """Local cards get their poster (``{address: src}``, gallery/posters.py)."""
    return [dataclasses.replace(c, poster=posters.get(c.address)) if c.src_kind == "local" else c for c in cards]


def display_status(config, video: RecordedVideo, now: dt.datetime) -> str:
    if video.status in (Status.FAILED, Status.UNKNOWN):
        return video.status.value
    if overdue.is_stalled(video, config, now.timestamp()):
        return "stalled"
    if video.output_lost:
        return "lost"
    return video.status.value


def _card(config, video: RecordedVideo, rows: list[dict], out_dir: Path, now: dt.datetime, where) -> Card:
    status = display_status(config, video, now)
    src, kind, local, signed = _source(config, video, out_dir, where)
    note = _note(video, status, kind)
    if signed:
        note = (note + " " + SIGNED_NOTE).strip()
    poster = None
    if kind == "object":  # the poster published beside the object (docs/outputs.md), played the same way
        beside = where.play(rules.poster_of(video.output_file))
        poster = beside[0] if beside else None
    return Card(
        address=video.address, provider=video.provider, provider_display=model.display_name(video.provider),
        status=status, recorded_status=video.status.value, note=note,
        src=src, src_kind=kind, local_file=local,
        sha256=video.output_sha256 if video.has_output else None,
        size=video.output_bytes if video.has_output else None,
        task_id=video.task_id or "", spec_file=video.spec_file or "",
        labels=tuple(f"{k}={v}" for k, v in sorted(video.labels.items())),
        script=script.script_html(video.provider, video.request),
        updated=when(video.finished_at or video.submitted_at),
        history=tuple(_history(rows)),
        poster=poster,
    )


def _source(config, video: RecordedVideo, out_dir: Path, where) -> tuple[str | None, str, Path | None, bool]:
    """What the player plays: the local output (relative to the page, so the page works
    from ``file://`` and keeps working when the project folder moves), an output the
    outputs store serves by URL (an object of a bucket: ``OutputsStore.play``), or a
    vendor link that may be fetched more than once. The last item: a signed link that expires."""
    if video.has_output and video.output_file:
        played = where.play(video.output_file)
        if played is not None:
            return played[0], "object", None, played[1]
        path = config.root / video.output_file
        if path.is_file():
            return quote(Path(os.path.relpath(path, out_dir)).as_posix()), "local", path, False
    vendor = model.VENDORS.get(video.provider)
    if (video.status is Status.FINISHED and video.video_url and vendor and not vendor.one_shot_download
            and video.video_url.startswith(("http://", "https://"))):
        return video.video_url, "vendor", None, False  # never a one-shot link: playing it would use it up
    return None, "", None, False


SIGNED_NOTE = ("The player uses a signed link of the bucket, valid for 7 days from when this page was made: "
               "run `reconciler gallery` again after that (or set outputs_public_url).")


def _note(video: RecordedVideo, status: str, kind: str) -> str:
    previous = video.has_output and video.output_task_id and video.output_task_id != video.task_id
    if status == "failed":
        text = f"The last render failed: {_sentence(video.error or 'no reason given')}"
    elif status == "unknown":
        text = ("A create was sent but its answer never arrived; it may have been paid. It is rendered "
                f"again only on purpose: reconciler apply --replace {video.address}.")
    elif status == "stalled":
        text = f"Unfinished since {when(video.submitted_at)}; ask the vendor about task {video.task_id or '?'}."
    elif status == "lost":
        text = (f"The output is lost ({(video.error or 'missing').removeprefix('output lost: ')}). `reconciler refresh` "
                "fetches it again while the vendor's link works; otherwise the next plan renders it again.")
    elif status in ("rendering", "pending"):
        text = "Rendering."
    elif status == "cancelled":
        text = "The render was cancelled."
    elif kind == "vendor":
        text = ("Not downloaded here; `reconciler refresh` downloads it again. Until then the vendor's "
                "link plays it (it expires).")
    elif not kind and video.status is Status.FINISHED:
        text = "Finished; not downloaded yet (reconciler refresh downloads it)."
    else:
        text = ""
    if previous and kind:
        text += " The player shows the previous render."
    return text.strip()


def _history(rows: list[dict]) -> list[Attempt]:
    """Each create that left this machine (or may have), with why it was made. The why
    is read from the history itself: first render, changed spec (another fingerprint),
    or a render again after a failure, an unknown outcome, a loss or ``--replace``."""
    out, previous = [], None
    for row in rows:
        if row["status"] == "not_sent":
            continue
        if (row.get("holder") or "").startswith(IMPORT_HOLDER):
            why = "imported by a person (`state import`): a task found at the vendor"
        elif previous is None:
            why = "first render"
        elif previous.get("outcome") == "deleted":
            why = "added again after a delete"
        elif previous.get("outcome") == "forgotten":
            why = "added again after `state forget`"
        elif row["fingerprint"] != previous["fingerprint"]:
            why = "the spec changed"
        elif previous["status"] == "failed":
            why = "the previous render failed"
        elif previous["status"] == "unknown":
            why = "asked for again (--replace) after an unknown outcome"
        else:
            why = "rendered again: output lost, or --replace"
        paid = "paid" if costs.paid(row) else "maybe paid" if row["status"] in ("unknown", "pending") else "not paid"
        out.append(Attempt(
            number=row["attempt"], when=when(row["submitted_at"] or row["intent_at"], zone=False), status=row["status"],
            task_id=row["task_id"] or "", paid=paid, why=why, outcome=row["outcome"] or "",
            error=row["error"] or ""))
        previous = row
    return out


def when(iso: str | None, *, zone: bool = True) -> str:
    """``2026-01-01T00:05:00+00:00`` as ``2026-01-01 00:05 UTC`` (state times are UTC)."""
    if not iso:
        return ""
    return iso.replace("T", " ")[:16] + (" UTC" if zone else "")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."

