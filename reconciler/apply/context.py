"""What carrying out a change and following a render may use: a small explicit context.

Why a module of its own: ``executor`` (one change) and ``follow`` (one render
followed) used to take the whole ``Engine`` and reach into a dozen of its attributes,
so data flowed up and down between three modules that could only be read together.
The engine now builds one ``RunContext`` with exactly the services those functions
need and passes it down; nothing below the engine imports the engine, and what a
function hands back to the engine (the action it carried out) is its return value.

    ctx.db(store.method, ...)   a state write or read, on the engine's state thread
    ctx.emit(kind, address...)  the event sink (progress, errors, tallies)
    ctx.tracker / ctx.track()   the unfinished renders being followed
    ctx.providers[name]         the vendor clients
    ctx.outputs                 where outputs are published (``outputs.base``: folder or bucket)
    ctx.manifest.changed()      the manifest follows the state
    ctx.clock()                 monotonic seconds (injected in tests)
    ctx.lock(address)           held while a change or a poll+download works on it
    ctx.account(provider)       the vendor account this run calls as (None: not known here)
    ctx.other_account(video)    a render of another account: reported, never touched (docs/team.md)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from reconciler.model import RecordedVideo, Status
from reconciler.providers.base import script_size
from reconciler.state import overdue

if TYPE_CHECKING:  # pragma: no cover
    from reconciler.apply.schedule import Tracker
    from reconciler.config import Config
    from reconciler.outputs.base import OutputsStore
    from reconciler.providers.base import Provider
    from reconciler.state.manifest_writer import ManifestWriter
    from reconciler.state.store import Store


@dataclass(frozen=True)
class RunContext:
    config: Config  # paths: outputs, decks, state folder
    store: Store  # its methods are passed to ``db``; read directly only when on the state thread
    db: Callable[..., Awaitable[Any]]
    emit: Callable[..., None]  # (kind: Kind, address, provider="", task_id=None, detail="")
    tracker: Tracker
    providers: Mapping[str, Provider]
    manifest: ManifestWriter
    clock: Callable[[], float]
    holder: str  # who writes the intents ("apply (pid 123)")
    lock: Callable[[str], asyncio.Lock]
    wake: Callable[[], None]  # tell the engine's wait loop that the tracker changed
    outputs: OutputsStore  # the local outputs folder or the bucket (docs/outputs.md)
    account: Callable[[str], str | None]  # provider -> the account its renders are created with (docs/team.md)
    # a video whose render another vendor account created: reported (once) and True; else False
    other_account: Callable[[RecordedVideo], bool]

    def track(self, address: str, provider: str, task_id: str, request: dict | None = None) -> None:
        """Follow a render whose create (of ``request``) was just answered (recorded as rendering)."""
        self.tracker.add(address, provider, task_id, self.clock(), recorded=Status.RENDERING,
                         stall_in=overdue.stall_after(self.config, provider), size=script_size(request),
                         elapsed=0.0)
        self.wake()
