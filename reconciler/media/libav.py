"""The one door to PyAV: loaded on first use, one media job at a time, decoder errors
collected.

Why a module of its own: FFmpeg's decoders conceal most damage instead of failing
(a corrupt H.264 slice logs "error while decoding MB ..." and still yields a frame), so
"every frame decodes without error" can only be checked by listening to FFmpeg's log
while decoding. That log is process-wide and written from the decoder's worker threads,
so it is captured globally, and media jobs (verify, poster, join) take a process-wide
lock: one file's errors can never be blamed on another being decoded at the same time.
On this machine's two cores running them one at a time costs nothing in throughput.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

_LOCK = threading.RLock()


def load() -> Any:
    """The ``av`` module (imported here, on first use, never at module import)."""
    import av

    return av


@contextmanager
def job() -> Iterator[list[tuple[int, str, str]]]:
    """Hold the media lock and capture FFmpeg's errors meanwhile: yields the live list of
    ``(level, component, message)`` entries at level ERROR or worse logged so far."""
    av = load()
    with _LOCK:
        previous = av.logging.get_level()
        av.logging.set_level(av.logging.ERROR)
        try:
            with av.logging.Capture(local=False) as logs:
                yield logs
        finally:
            av.logging.set_level(previous)


def describe(error: BaseException) -> str:
    """An FFmpeg error in a few words: its message and, where FFmpeg logged one, the
    decoder's own explanation (``InvalidDataError: ... (aac: Number of bands ...)``)."""
    text = getattr(error, "strerror", None) or str(error)
    log = getattr(error, "log", None)
    if log and len(log) >= 3 and log[2]:
        text += f" ({log[1]}: {str(log[2]).strip()})"
    return text


def first_error(logs: list[tuple[int, str, str]]) -> str | None:
    """The first captured FFmpeg error as ``component: message``, or None."""
    for _level, component, message in logs:
        return f"{component}: {str(message).strip()}"
    return None
