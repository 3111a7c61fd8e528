"""The one exception tree of reconciler.

Every error a user can cause or meet is a ``ReconcilerError``; the CLI alone turns
them into messages and exit code 1. Library code raises, never prints or exits.
Messages say what happened *and what to do next*. No message may contain a secret.

    ReconcilerError
    ├── ConfigError            reconciler.yaml or the environment is wrong
    ├── SpecErrors             one or more spec problems, all collected (``.diagnostics``)
    ├── PlanError              the plan is refused (prevent_destroy, mass delete, bad target)
    ├── StalePlanError         a saved plan no longer matches specs, vars or state
    ├── StateError             the state DB is unreadable / too new
    │   ├── LockHeldError      another apply/refresh/watch holds the state lock
    │   └── StateWriteError    a write to the state DB failed (disk full, permissions): stop
    │       └── StateUnreachableError  the shared state's server cannot be reached: stop (a standby waits)
    ├── ManifestError          the manifest file could not be written: stop
    ├── OutputsError           the outputs bucket failed (unreachable, 403, 5xx, a timeout): a
    │                          local failure to fix and retry, never a vendor loss
    ├── MediaError             a video file does not decode (or parts cannot be joined): ``.reason``
    └── ProviderError          raised by reconciler.providers only, mapped once at the boundary
        │                      (its facts given at construction: sent, local, output_lost, kept, retry_after)
        ├── TransientError     safe to retry (429/5xx, vendor "internal error", connect failures)
        ├── PermanentError     retrying cannot help (auth, bad params, quota, text too long, PPT)
        └── OutcomeUnknownError a create was sent but its answer never arrived: never re-send
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ReconcilerError(Exception):
    """Base of every error reconciler reports to a user (exit code 1)."""


class ConfigError(ReconcilerError):
    pass


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in one spec file: rendered as ``path:line: where: message``."""

    path: str  # project-relative, posix
    line: int  # 1-based; 0 when unknown
    where: str  # e.g. "videos.launch/intro.sub_title", or "" for the whole file
    message: str

    def __str__(self) -> str:
        loc = f"{self.path}:{self.line}" if self.line else self.path
        return f"{loc}: {self.where}: {self.message}" if self.where else f"{loc}: {self.message}"


class SpecErrors(ReconcilerError):
    """All problems found in one load of the specs, sorted by file and line."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics)
        n = len(self.diagnostics)
        lines = [str(d) for d in self.diagnostics]
        super().__init__("\n".join(lines + [f"{n} error{'s' if n != 1 else ''} in specs; nothing was changed."]))


class PlanError(ReconcilerError):
    pass


class StalePlanError(ReconcilerError):
    pass


class StateError(ReconcilerError):
    pass


class LockHeldError(StateError):
    pass


class StateWriteError(StateError):
    """A local failure writing the state (disk full, read-only, permissions): a run
    stops taking new work, keeps what it recorded, and exits 1 saying what to fix."""


class StateUnreachableError(StateWriteError):
    """The shared state's server cannot be reached (network cut, server restart): like
    any local write failure a run stops taking new work; a ``watch --standby`` then waits
    for the state and the writer role again instead of exiting."""


class ManifestError(ReconcilerError):
    """The manifest file could not be written (its path is a folder, no space, ...)."""


class OutputsError(ReconcilerError):
    """The outputs store (an S3-compatible bucket, docs/outputs.md) refused or could not be
    reached. Never a lost output and never a reason to render again: what was
    downloaded stays staged locally until an upload is confirmed. ``status`` and ``code``
    are the service's HTTP status and S3 error code when it answered (``doctor`` picks
    its fix by them)."""

    def __init__(self, message: str, *, status: int | None = None, code: str = ""):
        super().__init__(message)
        self.status = status
        self.code = code


class MediaError(ReconcilerError):
    """A video file is not playable media (docs/parts.md): no video stream, no duration,
    or a frame that does not decode; or parts that cannot be joined. ``reason`` says
    why in words a person can read; ``path`` names the file."""

    def __init__(self, path: object, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class ProviderError(ReconcilerError):
    """A vendor call failed. ``code`` is the vendor error code or HTTP status, if any.

    The facts the layers above act on are given when the error is made, never attached
    later: ``sent`` is False when the request certainly never left this machine (the
    connection was not even opened: a create may be forgotten), None when it may have;
    ``local`` marks a problem of this machine (disk full, a blocked path, a permission:
    never a loss of the output); ``output_lost`` says the output can no longer be had (a
    one-shot link used up); ``kept`` is where bytes received but rejected were put
    aside for inspection, if anywhere; ``retry_after`` the seconds the vendor asked to
    wait (its ``Retry-After``), if it did."""

    def __init__(self, message: str, *, provider: str = "", code: int | str | None = None,
                 sent: bool | None = None, local: bool = False, output_lost: bool = False,
                 kept: Path | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.provider = provider
        self.code = code
        self.retry_after = retry_after
        self.sent = sent
        self.local = local
        self.output_lost = output_lost
        self.kept = kept


class TransientError(ProviderError):
    pass


class PermanentError(ProviderError):
    pass


class OutcomeUnknownError(ProviderError):
    pass
