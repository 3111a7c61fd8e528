"""Renders that need a person because of time: stalled ones, and outputs about to expire.

Why a module of its own: two facts of the vendors are about clocks, and status,
refresh, the engine and the watch log must all say the same thing about them:

- **Renders can hang** (docs/vendors.md, "Both"): a render still unfinished
  ``stall_after`` seconds after it was sent (``providers.<vendor>.stall_after`` in
  reconciler.yaml, default an hour) is *stalled*: reported, polled only every
  ``STALLED_POLL_INTERVAL`` seconds, not waited for by ``apply``, and never rendered
  again unless a person asks (``reconciler apply --replace ADDR``). Its status stays
  ``rendering`` (docs/formats.md fixes the status words); ``stalled`` is said beside it.
- **A Unisound output link expires** (``model.VENDORS``' ``link_lifetime``) and serves
  one download: a finished render whose output is still not downloaded a day after it
  finished is warned about, before it is lost.

Everything here is a pure function of a recorded video, the settings and a wall-clock
``now`` (seconds since the epoch) passed in by the caller.
"""

from __future__ import annotations

import datetime as dt
import math

from reconciler.model import VENDORS, RecordedVideo, Status

STALLED_POLL_INTERVAL = 600.0  # seconds between polls of a stalled render
# seconds an output link works after the render finished, by vendor (model.VENDORS)
LINK_LIFETIME = {name: v.link_lifetime for name, v in VENDORS.items() if v.link_lifetime is not None}
WARN_UNDOWNLOADED_AFTER = 86400.0  # warn about an output not downloaded this long after it finished


def age(iso: str | None, now: float) -> float | None:
    """Seconds from the ISO time ``iso`` to ``now``, or None if there is no readable time."""
    if not iso:
        return None
    try:
        when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return now - when.timestamp()


def stall_after(config, provider: str) -> float:
    try:
        return config.provider_settings(provider).stall_after
    except AttributeError:
        return 3600.0


def stall_remaining(video: RecordedVideo, config, now: float) -> float:
    """Seconds until ``video``'s render counts as stalled (0 if it already does; the
    whole deadline when the send time is unknown)."""
    limit = stall_after(config, video.provider)
    sent = age(video.submitted_at, now)
    return limit if sent is None else max(0.0, limit - sent)


def is_stalled(video: RecordedVideo, config, now: float) -> bool:
    """Whether ``video`` is a render still unfinished past its vendor's ``stall_after``."""
    if video.status is not Status.RENDERING:
        return False
    sent = age(video.submitted_at, now)
    return sent is not None and sent >= stall_after(config, video.provider)


def stalled_message(address: str, provider: str, limit: float, sent_ago: float | None = None) -> str:
    how_long = f"{_duration(sent_ago)} after it was sent" if sent_ago is not None else f"after {_duration(limit)}"
    return (f"stalled: still unfinished {how_long} (stall_after: {limit:g}s for {provider}); polled every "
            f"{_duration(STALLED_POLL_INTERVAL)} from now, never rendered again unless you run "
            f"`reconciler apply --replace {address}`")


def describe_stall(video: RecordedVideo, config, now: float) -> str:
    return stalled_message(video.address, video.provider, stall_after(config, video.provider),
                           age(video.submitted_at, now))


def download_warning(video: RecordedVideo, now: float) -> str | None:
    """A warning for a finished render whose output is not downloaded a day after it
    finished, on a vendor whose link expires; None otherwise."""
    lifetime = LINK_LIFETIME.get(video.provider)
    if lifetime is None or video.status is not Status.FINISHED or video.output_lost:
        return None
    if video.task_id is None or video.output_task_id == video.task_id:
        return None  # downloaded
    finished = age(video.finished_at, now)
    if finished is None or finished < WARN_UNDOWNLOADED_AFTER:
        return None
    left = lifetime - finished
    when = f"in about {_duration(left)}" if left > 0 else "already (it may be lost)"
    return (f"finished {_duration(finished)} ago and not downloaded yet: its link expires {when}; run "
            "`reconciler refresh` now to download it")


def _duration(seconds: float) -> str:
    if seconds is None or math.isinf(seconds):
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.1f} days"
