"""`reconciler cache prune`: remove cached renders no video uses, unused for longer
than ``cache_keep_days`` (docs/cache.md), and say how many and how much space it freed.

A cached render is "used" while a recorded video's current fingerprint or published
output is that fingerprint; its age is its ``used_at`` (the last time it was kept or
served). apply never prunes by itself. Holds the writer lock: it changes the index.
The bytes go from the outputs store (the local ``.cache`` folder, or the bucket's
``<prefix>/.cache/``); one that cannot be deleted is said, and no longer indexed.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from reconciler.commands.status import human_bytes
from reconciler.errors import ReconcilerError
from reconciler.outputs import open_outputs
from reconciler.state import outputs_location
from reconciler.state import store as state_store
from reconciler.util import clock


def run(project) -> int:
    config = project.config()
    lock = state_store.writer_lock(config).acquire("cache prune")
    try:
        store = state_store.open_store(config)
        try:
            outputs_location.settle(config, store)  # never prune where the cache is not
            in_use = {fp for v in store.recorded().values() for fp in (v.fingerprint, v.output_fingerprint) if fp}
            cutoff = (clock.utc_now() - timedelta(days=config.file.cache_keep_days)).isoformat(timespec="seconds")
            removed = freed = 0
            kept: list[str] = []  # bytes whose removal failed: unindexed, so never served; said below
            where = open_outputs(config)
            for fingerprint, entry in sorted(store.cache_index().items()):
                if fingerprint in in_use or (entry["used_at"] or "") > cutoff:
                    continue
                store.cache_drop(fingerprint)  # the index first: a file without a row is never served
                try:
                    where.cache_remove(fingerprint)
                except (OSError, ReconcilerError) as exc:
                    kept.append(f"{fingerprint[:12]}… ({exc})")
                removed += 1
                freed += entry["bytes"] or 0
        finally:
            store.close()
    finally:
        lock.release()
    for line in kept[:5]:
        print(f"warning: could not delete the cached bytes of {line}; they are no longer used", file=sys.stderr)
    print(f"Pruned {removed} cached render{'s' if removed != 1 else ''} unused for more than "
          f"{config.file.cache_keep_days} days; freed {freed} bytes ({human_bytes(freed)}).")
    return 0
