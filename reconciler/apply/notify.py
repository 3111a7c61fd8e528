"""Notifications (``notify:`` in reconciler.yaml, docs/budget.md): webhook messages about
the events a team must hear of (finished, failed, unknown, stalled, budget refused).

Why a thread of its own: a webhook is someone else's server, and it must never fail or
slow an apply. The engine's hook only puts the event on a queue (no I/O, no await); a
daemon thread with its own short-timeout httpx client sends. Events that arrive
together (an apply finishing fifty renders) go as one message per webhook, gathered
for ``GATHER`` seconds. A failed post is tried again briefly with the one backoff
(``util.backoff``), then dropped with a warning on stderr. At the end of a run
``close`` waits at most ``CLOSE_WAIT`` seconds for what is queued, then leaves.
The URL is a secret: read from the named environment variable when the notifier is
built, kept only in the client's target list, never printed (a failure names the
*variable*).
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping

from reconciler.apply.events import Event
from reconciler.config import Notify
from reconciler.util import backoff, urls

GATHER = 0.3  # seconds events are gathered into one message
CLOSE_WAIT = 3.0  # seconds the end of a run waits for messages still queued
TIMEOUT = 2.0  # seconds, each post (connect, read, write, pool)
TRIES = 3
RETRY = backoff.Exponential(base=0.2, cap=1.0)
MAX_LINES = 30  # events listed in one message; the rest counted


@dataclass(frozen=True)
class Notice:
    """One thing to tell: the notify event name and the details."""

    event: str  # finished | failed | unknown | stalled | budget
    address: str = ""
    provider: str = ""
    task_id: str | None = None
    detail: str = ""

    def line(self) -> str:
        head = f"{self.address} {self.event}" if self.address else self.event
        task = f" (task {self.task_id})" if self.task_id else ""
        return f"{head}{task}: {self.detail}" if self.detail else head + task


def body(fmt: str, notices: list[Notice]) -> dict:
    """The request body of one message in a webhook's documented shape."""
    text = _text(notices)
    if fmt == "feishu":
        return {"msg_type": "text", "content": {"text": text}}
    if fmt in ("dingtalk", "wecom"):
        return {"msgtype": "text", "text": {"content": text}}
    if fmt == "slack":
        return {"text": text}
    return {"source": "reconciler", "text": text,
            "events": [{"event": n.event, "address": n.address, "provider": n.provider, "task_id": n.task_id,
                        "detail": n.detail} for n in notices]}


def _text(notices: list[Notice]) -> str:
    if len(notices) == 1:
        return f"reconciler: {notices[0].line()}"
    lines = [f"reconciler: {len(notices)} events"] + [f"- {n.line()}" for n in notices[:MAX_LINES]]
    if len(notices) > MAX_LINES:
        lines.append(f"- … and {len(notices) - MAX_LINES} more")
    return "\n".join(lines)


class Notifier:
    """Posts notices to the configured webhooks from a background thread."""

    def __init__(self, targets: tuple[Notify, ...], env: Mapping[str, str] | None = None, stderr=None):
        env = os.environ if env is None else env
        self._stderr = stderr or sys.stderr
        self._targets: list[tuple[Notify, str]] = []
        for target in targets:
            url = env.get(target.url_env, "").strip()
            if not url:
                self._warn(f"notify: ${target.url_env} is not set; no {target.format} messages")
            elif (why := urls.http_problem(url)) is not None:
                self._warn(f"notify: ${target.url_env} is not a usable webhook URL ({why}); "
                           f"no {target.format} messages")
            else:
                self._targets.append((target, url))
        self._queue: queue.Queue[Notice | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        if self._targets:
            self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
            self._thread.start()

    def event(self, event: Event) -> None:
        """Called for every engine event; queues the ones a notify event names."""
        name = event.kind.about.notify
        if name and self._thread is not None:
            self._queue.put(Notice(name, event.address, event.provider, event.task_id, event.detail))

    def budget(self, text: str) -> None:
        if self._thread is not None:
            self._queue.put(Notice("budget", detail=f"nothing done: the plan is over budget: {text}"))

    def close(self, wait: float = CLOSE_WAIT) -> None:
        """Send what is queued, waiting at most ``wait`` seconds; never raises."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(wait)
        if self._thread.is_alive():
            names = ", ".join(f"${t.url_env}" for t, _ in self._targets)
            self._warn(f"notify: a webhook ({names}) did not answer in time; the last messages may not have been sent")

    # -- the sender thread ------------------------------------------------------------
    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
            done = False
            while not done:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                deadline = time.monotonic() + GATHER
                while (left := deadline - time.monotonic()) > 0:
                    try:
                        item = self._queue.get(timeout=left)
                    except queue.Empty:
                        break
                    if item is None:
                        done = True
                        break
                    batch.append(item)
                for target, url in self._targets:
                    chosen = [n for n in batch if n.event in target.on]
                    if chosen:
                        self._post(client, target, url, body(target.format, chosen))

    def _post(self, client: Any, target: Notify, url: str, payload: dict) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        why = ""
        for n, pause in enumerate(backoff.pauses(TRIES, RETRY.delay)):
            if n:
                time.sleep(pause)
            try:
                r = client.post(url, content=data, headers={"Content-Type": "application/json"})
                if r.status_code < 300:
                    return
                why = f"HTTP {r.status_code}"
            except Exception as exc:  # noqa: BLE001 - InvalidURL, an IDNA UnicodeError...: a warning, never a traceback
                why = type(exc).__name__  # never str(exc): it may carry the URL
        self._warn(f"notify: the {target.format} webhook in ${target.url_env} failed ({why}); message dropped")

    def _warn(self, message: str) -> None:
        try:
            print(message, file=self._stderr, flush=True)
        except (OSError, ValueError):
            pass


class NotifyingHooks:
    """Engine hooks that also feed a Notifier; everything else is the wrapped hooks'."""

    def __init__(self, inner, notifier: Notifier):
        self._inner, self.notifier = inner, notifier

    def event(self, event: Event) -> None:
        self._inner.event(event)
        self.notifier.event(event)

    def close(self) -> None:
        self._inner.close()
        self.notifier.close()

    def __getattr__(self, name: str):
        return getattr(self._inner, name)
