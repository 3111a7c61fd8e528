"""One line per daemon event, for people on a terminal or for a log collector.

Why its own module: ``watch`` runs unattended for days, so what it did must be
readable afterwards by a person (``text``) and by a machine (``json``), with the same
facts in both. Every line carries a timestamp, a level, an event name (``plan``,
``submit``, ``state``, ``download``, ``error``, ...), the video address when there is
one, and a human message; JSON lines add any extra fields as keys::

    2026-11-21T11:14:05.123Z INFO  submit    launch/intro: render started (task 135)
    {"ts": "2026-11-21T11:14:05.123Z", "level": "info", "event": "submit",
     "address": "launch/intro", "message": "render started (task 135)", "task_id": "135"}

Lines go to one stream (stderr by default) and are flushed at once, so a log
collector tailing it sees events as they happen. ``once`` suppresses repeats of the
same fact (a permanent failure is logged once per fingerprint, not every cycle).
Messages come from reconciler errors and events, which never contain secrets.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, Callable, TextIO

from reconciler.util.clock import stamp


class EventLog:
    """Writes events as text or JSON lines. Thread-safe; never raises on a closed stream."""

    def __init__(self, stream: TextIO | None = None, fmt: str = "text",
                 clock: Callable[[], str] = lambda: stamp(millis=True)):
        if fmt not in ("text", "json"):
            raise ValueError(f"unknown log format {fmt!r}")
        self.stream = stream if stream is not None else sys.stderr
        self.fmt = fmt
        self._clock = clock
        self._seen: dict[Any, set[tuple]] = {}  # topic -> keys logged by ``once``
        self._mutex = threading.Lock()

    def emit(self, event: str, message: str, *, level: str = "info", address: str | None = None,
             **fields: Any) -> None:
        """Log one event. ``fields`` become JSON keys (text shows them as ``key=value``)."""
        record = {"ts": self._clock(), "level": level, "event": event, "address": address, "message": message}
        for key, value in fields.items():
            if value is not None and key not in record:
                record[key] = value
        line = self._json(record) if self.fmt == "json" else self._text(record)
        with self._mutex:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (ValueError, OSError):  # stream closed or broken pipe: keep running
                pass

    def once(self, key: tuple, event: str, message: str, **kwargs: Any) -> bool:
        """``emit`` unless an event with this ``key`` was already logged. True if logged.
        A key's first item is its topic (see ``forget_topic``)."""
        with self._mutex:
            seen = self._seen.setdefault(key[0] if key else None, set())
            if key in seen:
                return False
            seen.add(key)
        self.emit(event, message, **kwargs)
        return True

    def forget(self, key: tuple) -> None:
        """Let ``once(key, ...)`` log again (the fact it stood for has changed)."""
        with self._mutex:
            self._seen.get(key[0] if key else None, set()).discard(key)

    def forget_topic(self, topic: str) -> None:
        """``forget`` every key of ``topic`` (the problem went away)."""
        with self._mutex:
            self._seen.pop(topic, None)

    def info(self, event: str, message: str, **kwargs: Any) -> None:
        self.emit(event, message, level="info", **kwargs)

    def warning(self, event: str, message: str, **kwargs: Any) -> None:
        self.emit(event, message, level="warning", **kwargs)

    def error(self, event: str, message: str, **kwargs: Any) -> None:
        self.emit(event, message, level="error", **kwargs)

    @staticmethod
    def _json(record: dict) -> str:
        return json.dumps(record, ensure_ascii=False, default=str, separators=(", ", ": "))

    @staticmethod
    def _text(record: dict) -> str:
        head = f"{record['ts']} {record['level'].upper():<7} {record['event']:<11}"
        body = f"{record['address']}: {record['message']}" if record["address"] else record["message"]
        extra = " ".join(f"{k}={v}" for k, v in record.items()
                         if k not in ("ts", "level", "event", "address", "message"))
        # A multi-line message (a refused plan) stays one line: one event, one line.
        body = " | ".join(part.strip() for part in body.splitlines() if part.strip())
        return f"{head} {body}" + (f" [{extra}]" if extra else "")


# -- engine events -------------------------------------------------------------------

_DEFAULT_MESSAGES = {"submitted": "the vendor accepted the create; rendering",
                     "downloading": "render finished; downloading the output"}


class LogHooks:
    """The engine's ``Hooks``: every engine event becomes one log line.

    ``listener`` (optional) sees each event too: the daemon uses it to learn which
    videos' state changed and which creates failed transiently."""

    def __init__(self, log: EventLog, listener: Callable[[Any], None] | None = None):
        self.log = log
        self.listener = listener
        self.skipped = 0  # changes not started because the daemon is stopping

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def event(self, event) -> None:
        kind = event.kind.value
        try:
            self._log(kind, event)
        finally:
            if self.listener is not None:
                self.listener(event)

    def _log(self, kind: str, event) -> None:
        about = event.kind.about  # level, repeats, progress: apply/events.ABOUT
        if kind == "skipped":
            self.skipped += 1  # summarised once at shutdown instead of one line per video
            return
        if about.progress:
            self.log.forget(("engine", "poll_error", event.address, event.task_id))
        message = event.detail or _DEFAULT_MESSAGES.get(kind) or kind.replace("_", " ")
        if kind == "submitting":
            message = f"sending the create ({event.detail or 'create'})"
        fields = {"level": about.level, "address": event.address, "provider": event.provider or None,
                  "task_id": event.task_id}
        if about.repeats:  # can recur without news (re-tracked every re-check, a vendor down): once per fact
            key = ("engine", kind, event.address, event.task_id) + ((event.detail,) if about.repeats == "detail" else ())
            self.log.once(key, kind, message, **fields)
        else:
            self.log.emit(kind, message, **fields)
