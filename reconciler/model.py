"""The plain data shapes that cross module boundaries.

Specs produce ``DesiredVideo``; the state store produces ``RecordedVideo``; ``plan``
turns both into a ``Plan`` of ``Change``s; apply executes it. These are frozen
dataclasses (cheap to build by the ten thousand, cheap to pickle into the spec cache)
and carry no behaviour beyond small derived properties. What a valid spec of each
vendor is lives in ``reconciler.specs.schema``; nothing vendor-shaped leaves that module
except the ``request`` dict, which is exactly the body the vendor will receive.
"""

from __future__ import annotations

import marshal
import operator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Mapping


@dataclass(frozen=True)
class Vendor:
    """What the rest of reconciler needs to know about one vendor, in one place.

    Every other place reads these facts from ``VENDORS``: the environment variables
    (config), the plan's "cannot be cancelled" notes (planning), the client class and
    its capabilities (providers), the known provider names and fixed body fields (specs,
    engine), the link lifetime (state.overdue, doctor). A vendor's
    wire format stays in its ``providers/<name>.py``; its spec fields in ``specs/schema``."""

    name: str  # the ``provider:`` value in specs and the key under ``providers:`` in config
    display: str  # how messages name it
    can_cancel: bool  # the vendor has a cancel API (else an unfinished render is abandoned)
    one_shot_download: bool  # an output URL may be fetched only once
    env_app_id: str  # environment variable of the application id / appKey
    env_secret: str  # environment variable of the secret
    env_endpoint: str  # environment variable that overrides the endpoint
    default_endpoint: str
    client: str  # ``module:Class`` of its client, under ``reconciler.providers``
    # Seconds of clock skew after which signed calls are refused: Xingyun documents 60 s;
    # Unisound documents nothing (choice: assume the same 60 s).
    clock_window: float = 60.0
    app_id_name: str = "app id"  # how messages name the public account id (docs/team.md)
    # Seconds an output link works after the render finished, where the vendor documents it
    # (Unisound: 3 days, 3天有效); None: undocumented (download at once all the same).
    link_lifetime: float | None = None
    # Fields every request body of this vendor carries, fixed, never written in a spec
    # (Unisound: ``type: 2``, synthesise from text); ``specs.schema.request_body`` adds them.
    fixed_body: tuple[tuple[str, object], ...] = ()


VENDORS: dict[str, Vendor] = {v.name: v for v in (
    Vendor("xingyun", "Xingyun", can_cancel=True, one_shot_download=False,
           env_app_id="XINGYUN_APP_ID", env_secret="XINGYUN_APP_SECRET", env_endpoint="XINGYUN_ENDPOINT",
           default_endpoint="https://nebula-agent.xingyun3d.com", client="xingyun:XingyunProvider"),
    Vendor("unisound", "Unisound", can_cancel=False, one_shot_download=True,
           env_app_id="UNISOUND_APPKEY", env_secret="UNISOUND_SECRET", env_endpoint="UNISOUND_ENDPOINT",
           default_endpoint="https://ai-api.hivoice.cn", client="unisound:UnisoundProvider",
           app_id_name="appKey", link_lifetime=3 * 86400.0, fixed_body=(("type", 2),)),
)}


def display_name(provider: str) -> str:
    """``Unisound`` for ``unisound``; an unknown name as it is."""
    vendor = VENDORS.get(provider)
    return vendor.display if vendor else provider


def can_cancel(provider: str) -> bool:
    """Whether ``provider`` can cancel a render (an unknown one is assumed able to)."""
    vendor = VENDORS.get(provider)
    return vendor.can_cancel if vendor else True


def owner_elsewhere(video: RecordedVideo, accounts: Mapping[str, str]) -> str | None:
    """The account ``video``'s render was created with, when that is not the account
    this checkout runs as for its vendor (docs/team.md); else None. A render recorded
    without an account (before accounts were recorded), or of a vendor whose account
    is not known here (no credentials), counts as this checkout's own."""
    current = accounts.get(video.provider)
    if video.account is None or current is None or video.account == current:
        return None
    return video.account


def account_text(provider: str, account: str) -> str:
    """``xingyun app id sim-app at sim:1a2b3c`` for an account ``sim-app@sim:1a2b3c``
    (config/account.py): the public id and where it lives; never a secret."""
    vendor = VENDORS.get(provider)
    app_id, _, where = account.rpartition("@")
    name = f"{provider} {vendor.app_id_name if vendor else 'account'}"
    return f"{name} {app_id} at {where}" if app_id else f"{name} {account}"


@dataclass(frozen=True)
class Credentials:
    """Where and as whom to call a vendor. ``secret`` never leaves the provider."""

    endpoint: str
    app_id: str
    secret: str

    def __repr__(self) -> str:  # keep secrets out of logs and tracebacks
        return f"Credentials(endpoint={self.endpoint!r}, app_id={self.app_id!r}, secret='***')"


AUTH_PLACES = ("query", "body", "header")
AUTH_KEYS = ("appkey", "timestamp", "signature")


@dataclass(frozen=True)
class UnisoundAuth:
    """Where the three Unisound auth values travel (``place``) and under which names:
    the ``providers.unisound.auth_in`` / ``auth_names`` settings, read by ``config`` and
    applied by ``providers.unisound``.

    Choice: the document lists ``appKey``, ``timestamp``, ``signature`` but never says
    where they go; the default is query parameters with the document's spelling. It is
    a setting because a wrong guess fails every call; ``reconciler doctor`` finds the
    one a real account accepts."""

    place: str = "query"  # one of AUTH_PLACES
    appkey: str = "appKey"
    timestamp: str = "timestamp"
    signature: str = "signature"

    def names(self) -> dict[str, str]:
        return {"appkey": self.appkey, "timestamp": self.timestamp, "signature": self.signature}


class Status(StrEnum):
    """A video's status as recorded (docs/formats.md)."""

    PENDING = "pending"  # intent written, create not yet answered
    RENDERING = "rendering"  # the vendor accepted the create; not finished yet
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # a create was sent but its answer never arrived


UNFINISHED = frozenset({Status.PENDING, Status.RENDERING})


class Action(StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "noop"


@dataclass(frozen=True)
class DesiredVideo:
    """One video as the specs want it, after defaults and templating."""

    address: str
    provider: str
    # The vendor request body exactly as it will be sent. For a Xingyun PPT video this
    # is the create body *without* ``parse_ppt_file_name`` (known only after upload).
    request: dict
    fingerprint: str
    spec_file: str  # project-relative posix path of the spec file
    line: int = 0  # line of the address key in that file (0 if unknown)
    labels: dict[str, str] = field(default_factory=dict)
    prevent_destroy: bool = False
    ppt_file: str | None = None  # project-relative posix path of the deck
    ppt_sha256: str | None = None
    tts_chars: int = 0  # characters of speech text, for cost estimates


LAZY_REQUEST = "_request_marshal"  # the key under which a cached video keeps its encoded request


class _LazyRequest:
    """``DesiredVideo.request`` of a video built from the spec cache, which holds it as
    ``marshal`` bytes (under ``LAZY_REQUEST``) until first read: a plan reads few
    requests, and decoding all 10,000 was a tenth of a warm plan. A non-data descriptor,
    so a video made by ``__init__`` (its ``request`` in its ``__dict__``) never reaches
    it and attribute reads stay as fast as Python makes them (a ``__getattr__`` would
    slow every one). Once decoded the request is an ordinary field: equality, ``repr``
    and ``replace`` see the same dict."""

    def __get__(self, video, owner=None):
        if video is None:
            raise AttributeError("request")
        fields = video.__dict__
        blob = fields.get(LAZY_REQUEST)
        if blob is None:
            if "request" in fields:  # decoded meanwhile by another thread
                return fields["request"]
            raise AttributeError(f"{type(video).__name__!r} object has no attribute 'request'")
        fields["request"] = request = marshal.loads(blob)
        fields.pop(LAZY_REQUEST, None)
        return request


DesiredVideo.request = _LazyRequest()  # set after @dataclass, which would take it for a default


@dataclass(frozen=True)
class RecordedVideo:
    """One video as the state DB remembers it.

    The ``status``/``task_id``/``fingerprint``/``request`` columns describe the *latest
    attempt*. The ``output_*`` columns describe the output currently published, which
    during a replace still comes from an older attempt (``output_fingerprint`` differs).
    """

    address: str
    provider: str
    fingerprint: str
    status: Status
    spec_file: str = ""
    request: dict | None = None
    labels: dict[str, str] = field(default_factory=dict)
    prevent_destroy: bool = False
    task_id: str | None = None
    attempt: int = 0
    error: str | None = None
    submitted_at: str | None = None
    finished_at: str | None = None
    video_url: str | None = None
    preview_image_url: str | None = None
    output_file: str | None = None  # project-relative posix path
    output_sha256: str | None = None
    output_bytes: int | None = None
    output_fingerprint: str | None = None
    output_task_id: str | None = None
    output_lost: bool = False
    output_place: str | None = None  # "host:/project/root" of the checkout that downloaded the output (docs/team.md)
    account: str | None = None  # the vendor account its render was created with (config/account.py); None: any
    # what the published output's full decode measured (media.verify; None: not measured, an older state)
    output_duration_s: float | None = None
    output_width: int | None = None
    output_height: int | None = None

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED

    @property
    def has_output(self) -> bool:
        return self.output_file is not None and not self.output_lost

    @property
    def output_media(self) -> MediaFacts | None:
        """What the published output's decode measured, if it was (schema 8 on)."""
        if self.output_duration_s is None or self.output_width is None or self.output_height is None:
            return None
        return MediaFacts(self.output_duration_s, self.output_width, self.output_height)


@dataclass(frozen=True)
class MediaFacts:
    """What a verified video's full decode measured that the state and the manifest keep
    (``media.verify.MediaInfo`` has these fields and more, and is accepted wherever this is)."""

    duration_s: float
    width: int
    height: int


@dataclass(frozen=True)
class PlanOptions:
    targets: frozenset[str] = frozenset()
    replace: frozenset[str] = frozenset()
    allow_mass_delete: bool = False
    max_delete_share: float | None = None
    use_cache: bool = True  # False: --no-cache (docs/cache.md)
    cached: frozenset[str] = frozenset()  # render fingerprints the render cache holds (docs/cache.md)
    place: str | None = None  # this checkout (``OutputsStore.place()``): outputs another one downloaded are not servable
    allow_over_budget: bool = False  # budget (docs/budget.md): enforced by planning.budget, not the planner
    keep_deleted_outputs: bool = False  # config (docs/outputs.md): a delete's reason says its output is kept
    # provider -> the vendor account this checkout runs as (docs/team.md); a render of another
    # account is never replaced or deleted here (planner._held); empty: no check
    accounts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    address: str
    action: Action
    provider: str
    reason: str  # a human sentence; never branched on
    file: str | None  # spec file (desired), or the recorded spec file for a delete
    desired: DesiredVideo | None = None
    recorded: RecordedVideo | None = None
    details: tuple[str, ...] = ()  # extra human lines, e.g. a short script diff
    from_cache: bool = False  # a create/replace served from the render cache: no render
    held_for: str | None = None  # the other account whose render this change would have touched (docs/team.md): a noop
    same_as: str | None = None  # served from the render of this address in the same plan (same fingerprint)
    # a rename (docs/cache.md): a create served from the render cache paired with the delete of the
    # address whose published output is that render; each names the other (a create and a delete still)
    moved_from: str | None = None  # on the create: the old address
    moved_to: str | None = None  # on the delete: the new address

    @property
    def renders(self) -> int:
        """1 if carrying out this change starts a paid render, else 0."""
        return int(self.action in (Action.CREATE, Action.REPLACE) and not self.from_cache)


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]  # one per address in specs or state, sorted by address

    def count(self, action: Action) -> int:
        return operator.countOf(map(_action_of, self.changes), action)  # in C: 10,000 changes, 5 times

    @property
    def summary(self) -> dict[str, int]:
        return {a.value: self.count(a) for a in Action}

    @property
    def has_changes(self) -> bool:
        return any(c.action is not Action.NOOP for c in self.changes)

    @property
    def renders(self) -> int:
        """How many paid renders applying this plan will start (none for one the render
        cache serves)."""
        served = operator.countOf(map(_from_cache_of, self.changes), True)  # in C, like count
        return self.count(Action.CREATE) + self.count(Action.REPLACE) - served

    @property
    def tts_chars(self) -> int:
        return sum(d.tts_chars for action, d, from_cache in map(_tts_fields, self.changes)  # fields read in C
                   if action in _RENDERING and d is not None and not from_cache)


_action_of = operator.attrgetter("action")
_tts_fields = operator.attrgetter("action", "desired", "from_cache")
_RENDERING = (Action.CREATE, Action.REPLACE)


_from_cache_of = operator.attrgetter("from_cache")
