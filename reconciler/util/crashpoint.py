"""The one test-only hook: kill this process at a named point.

Why it exists: the promise "a kill -9 at any moment loses nothing" can only be tested
by killing the process at exact moments (after an intent is written, after a create is
answered, ...). Unset, as always outside tests, ``crash_point`` does nothing.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "RECONCILER_TEST_CRASH_AT"
_crash_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    """TEST-ONLY: ``RECONCILER_TEST_CRASH_AT=name`` (or ``name:N`` for the N-th time)
    makes this process SIGKILL itself when it reaches the point ``name``, so the
    end-to-end tests can prove that a crash at that exact moment loses nothing.
    Points: ``after_intent``, ``after_submit``, ``after_poll``, ``after_download``,
    ``before_manifest``, ``after_cache_publish``, ``after_join`` (a video by parts joined and
    verified in its staging file, before it is published), ``after_stage`` (download verified where the
    outputs store wants it, before it is stored: a bucket's staging file, before the upload) and
    ``after_upload`` (stored: a bucket's upload confirmed, before the state records it); ``mid_migrate`` (``state migrate`` half-way
    through writing the copy); ``after_migrate_copy`` (``outputs migrate``: one file copied and
    verified at the target, before the next). Unset (always, outside tests) it does nothing."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _crash_hits[name] = _crash_hits.get(name, 0) + 1
    if _crash_hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
