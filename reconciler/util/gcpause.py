"""Pausing Python's cyclic garbage collector around bulk work on many small objects.

Why: loading and planning 10,000 videos builds some 10^5 acyclic objects (dicts,
tuples, dataclasses), and every generation-2 scan walks all of them: about a tenth of
a warm ``plan``. That work makes no reference cycles, so the collector would find
nothing; reference counting still frees everything as usual while it is paused.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused() -> Iterator[None]:
    """Collector off inside the block (nesting is fine); on again after, if it was on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
