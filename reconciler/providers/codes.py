"""Every vendor error code we know, with its kind and what the user should do next.

Why a table: the codes come from the two vendor documents and docs/vendors.md (some only
"seen in the wild"); keeping them as data beside their messages makes it easy to check
that each one has a message (the tests iterate this table) and to add one when a server
answers with something new. Classification into exception types is ``errors_map``'s job.
"""

from __future__ import annotations

TRANSIENT = "transient"  # safe to retry with backoff
AUTH = "auth"  # credentials, signature, clock or allow-list: fix the setup
NOT_FOUND = "not_found"  # the task id is unknown to the vendor
PERMANENT = "permanent"  # the request itself is refused: change it, or stop

# code: (kind, what happened, what to do next)
XINGYUN: dict[int, tuple[str, str, str]] = {
    # Not in the document: the production server's bad-signature answer ("签名有误"),
    # reported by a public integration that hit it with unescaped Chinese (docs/vendors.md).
    1: (AUTH, "the signature (X-TOKEN) was rejected",
        "Check XINGYUN_APP_SECRET and the local clock."),
    20001: (AUTH, "the application does not exist or cannot be used",
            "Check XINGYUN_APP_ID (and that the app is enabled in the Xingyun console)."),
    20002: (AUTH, "the signature (X-TOKEN) was rejected",
            "Check XINGYUN_APP_SECRET and the local clock."),
    20003: (AUTH, "the request timestamp has expired (valid 60 s)",
            "Check the local clock: it must be within a minute of the server's."),
    30002: (PERMANENT, "the PPT file is missing",
            "Check that ppt_file points at a .pptx that exists, then apply again."),
    30003: (PERMANENT, "the PPT file could not be parsed",
            "Open the deck, save it again as .pptx (no password, no macros) and apply again."),
    30004: (NOT_FOUND, "the video task was not found",
            "The task id is unknown to this Xingyun app; run `reconciler refresh` or render it again."),
    30005: (PERMANENT, "the render task could not be created (bad parameters?)",
            "Check look_name, tts_vcn_name, studio_name and the segments against the Xingyun console."),
    30006: (PERMANENT, "the render task could not be cancelled (it may already have finished)",
            "Run `reconciler refresh` to see its final state."),
}

UNISOUND: dict[int, tuple[str, str, str]] = {
    23901: (PERMANENT, "the request parameters were rejected",
            "Check text, speech_param and video_param against the Unisound document."),
    23902: (AUTH, "the signature was rejected",
            "Check UNISOUND_APPKEY, UNISOUND_SECRET and the local clock."),
    23903: (TRANSIENT, "the vendor had an internal error",
            "Reads are retried automatically; if it persists, try again later."),
    23907: (PERMANENT, "the account's package (quota) is exhausted",
            "Buy more quota in the Unisound console; retrying will not help until then."),
    23908: (AUTH, "the appkey does not exist", "Check UNISOUND_APPKEY."),
    23909: (AUTH, "this machine's IP address is not in the appkey's allow-list",
            "Add this machine's public IP to the allow-list in the Unisound console (takes ~5 minutes)."),
    23910: (NOT_FOUND, "the task was not found",
            "The task id is unknown to this appkey; run `reconciler refresh` or render it again."),
    23911: (PERMANENT, "the text is too long (at most 5000 characters)",
            "Shorten the text or split the video into several."),
}

TABLES = {"xingyun": XINGYUN, "unisound": UNISOUND}

# Auth failures that a wrong local clock can cause: their message names the clock skew.
CLOCK_SENSITIVE = frozenset({1, 20002, 20003, 23902})

# Transient codes that, on a paid create, may come *after* the task was made: the
# document says "retry" for Unisound 23903 (internal error), but a retried start is a
# second paid render, so on a create these are outcome-unknown (docs/vendors.md, issue 9).
CREATE_OUTCOME_UNKNOWN = {"unisound": frozenset({23903})}


def lookup(provider: str, code: int | str) -> tuple[str, str, str]:
    """(kind, what, todo) for ``code``; an unknown non-zero code is a permanent refusal."""
    known = TABLES.get(provider, {}).get(code) if isinstance(code, int) else None
    if known:
        return known
    return (PERMANENT, "the vendor refused the request with an undocumented error code",
            "Read the vendor's message above; fix the request or contact the vendor.")


def kind_of(provider: str, code: int | str) -> str:
    return lookup(provider, code)[0]


def create_outcome_unknown(provider: str, code: int | str) -> bool:
    """Whether ``code`` answering a paid create leaves its outcome unknown (never re-sent)."""
    return code in CREATE_OUTCOME_UNKNOWN.get(provider, ())
