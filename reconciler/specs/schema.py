"""What a valid video is, per provider, and the exact request body each one sends.

The spec is described once, here, in pydantic-core's schema language
(``pydantic_core.core_schema``): that description validates a video after its file's
``defaults`` were merged in, and ``specs/json_schema.py`` turns the same description
into the JSON Schema printed by ``reconciler schema``. Validation is strict (no silent
``"55"`` -> 55) and forbids unknown fields; a valid video comes out as a plain dict with
every documented default filled in. ``request_body`` turns it into exactly what the
vendor receives, defaults written out, so that writing a default in a spec does not
change the render fingerprint. The metadata fields (``labels``, ``prevent_destroy``) are
not in the body, so they never change it.

Why pydantic-core and not pydantic models: the validator is built in every process that
reads a changed spec file. Importing pydantic and building models cost ~85 ms per
process; pydantic-core's validator costs ~20 ms (``bench/plan_scale.py``, one file of
100 changed). The messages are the same, pydantic-core writes them in both cases.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic_core import SchemaValidator, ValidationError  # noqa: F401 - ValidationError: for callers
from pydantic_core import core_schema as cs

from reconciler.media.script import ALIAS as _SUB_ATTR
from reconciler.media.script import TAG as _TAG
from reconciler.media.script import TTS_TAGS  # noqa: F401 - re-exported
from reconciler.media.script import tag_parts as tts_parts  # noqa: F401 - the one reading of the tag grammar
from reconciler.model import VENDORS

MAX_TEXT = 5000
ADDRESS_RULE = ("1-200 characters of A-Z a-z 0-9 _ - . /, no empty part nor one starting with '.', "
                "not starting with '/'")
_ADDRESS = re.compile(r"[A-Za-z0-9_.\-/]{1,200}")
# A TTS tag is ``<name ...>`` or ``</name>`` with a known name; any other ``<`` is text
# (``3<5 且 6>2`` is a comparison, not a broken tag: docs/vendors.md). The grammar is read
# in one place, ``media.script`` (the captions show the same script), and checked here.


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank")
    return value


def _on_off(value: Any) -> Any:
    """YAML booleans are accepted for sub_title and mean on/off."""
    if value is True or value is False:
        return "on" if value else "off"
    return value


def _tts_tags(text: str) -> str:
    problem = tag_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def _one_source(video: dict) -> dict:
    if (video["segment"] is None) == (video["ppt_file"] is None):
        raise ValueError("give exactly one of `segment` or `ppt_file`")
    if video["ppt_file"] is not None and not video["ppt_file"].lower().endswith(".pptx"):
        raise ValueError("ppt_file must name a .pptx file")
    return video


# --- the description ------------------------------------------------------------------
# ``metadata`` carries what only the JSON Schema shows: a record's title and description,
# a field's description, a type's JSON Schema where it accepts more than it shows.

_STRICT = cs.CoreConfig(strict=True)
_REQUIRED = object()


def _text(max_length: int | None = None, *checks) -> cs.CoreSchema:
    """A non-empty, non-blank string, then ``checks`` in order."""
    schema = cs.no_info_after_validator_function(_not_blank, cs.str_schema(min_length=1, max_length=max_length))
    for check in checks:
        schema = cs.no_info_after_validator_function(check, schema)
    return schema


NON_BLANK = _text()
TTS_TEXT = _text(MAX_TEXT, _tts_tags)
PERCENT, BIT = cs.int_schema(ge=0, le=100), cs.int_schema(ge=0, le=1)
SUB_TITLE = cs.no_info_before_validator_function(
    _on_off, cs.literal_schema(["on", "off"]),
    metadata={"json_schema": {"anyOf": [{"enum": ["on", "off"]}, {"type": "boolean"}]}})


def field(schema: cs.CoreSchema, default: Any = _REQUIRED, *, factory=None,
          description: str | None = None) -> cs.TypedDictField:
    """A field, required unless it has a default (or a ``factory``); a default of None
    also lets the field be written as null."""
    metadata = {"description": description} if description else None
    if factory is not None:
        schema = cs.with_default_schema(schema, default_factory=factory)
    elif default is None:
        schema = cs.with_default_schema(cs.nullable_schema(schema), default=None)
    elif default is not _REQUIRED:
        schema = cs.with_default_schema(schema, default=default)
    return cs.typed_dict_field(schema, required=default is _REQUIRED and factory is None, metadata=metadata)


def record(name: str, doc: str | None, fields: dict[str, cs.TypedDictField]) -> cs.TypedDictSchema:
    """A mapping with exactly these fields (unknown ones are errors)."""
    return cs.typed_dict_schema(fields, extra_behavior="forbid", config=_STRICT, ref=name,
                                metadata={"title": name, "description": doc})


SEGMENT = record("Segment", "One spoken segment of a Xingyun video, optionally shown over a media URL.", {
    "text": field(NON_BLANK),
    "media_url": field(NON_BLANK, None),
})

_VIDEO_FIELDS = {  # every provider's; not in the request body
    "labels": field(cs.dict_schema(cs.str_schema(), cs.str_schema()), factory=dict,
                    description="Metadata only; never triggers a render."),
    "prevent_destroy": field(cs.bool_schema(), False, description="A plan that would delete or replace it fails."),
}

XINGYUN = record("XingyunVideo", "Mofa Xingyun create_render_task, by segments or by a PPT deck.", {
    **_VIDEO_FIELDS,
    "provider": field(cs.literal_schema(["xingyun"])),
    "look_name": field(NON_BLANK),
    "tts_vcn_name": field(NON_BLANK),
    "studio_name": field(NON_BLANK),
    "video_name": field(NON_BLANK, None),
    "sub_title": field(SUB_TITLE, "on"),
    "if_aigc_mark": field(cs.bool_schema(), True),
    "segment": field(cs.list_schema(SEGMENT, min_length=1), None),
    "ppt_file": field(NON_BLANK, None, description="A .pptx relative to the spec file."),
})

SPEECH_PARAM = record("SpeechParam", None, {
    "vcn": field(NON_BLANK),
    "speed": field(PERCENT, 50),
    "volume": field(PERCENT, 50),
    "pitch": field(PERCENT, 50),
    "bright": field(cs.int_schema(ge=50, le=100), 50),
})

VIDEO_PARAM = record("VideoParam", None, {
    "template": field(NON_BLANK),
    "watermask": field(BIT, None),
    "background": field(BIT, description="Required (必传): 0 = use backgroundImage, 1 = no background."),
    "backgroundImage": field(NON_BLANK, None),
})

UNISOUND = record("UnisoundVideo", "Unisound ai-vms-nrt/start with type 2 (text to video).", {
    **_VIDEO_FIELDS,
    "provider": field(cs.literal_schema(["unisound"])),
    "text": field(TTS_TEXT),
    "speech_param": field(SPEECH_PARAM),
    "video_param": field(VIDEO_PARAM),
    "user_id": field(NON_BLANK, None),
})

RECORDS = {"xingyun": XINGYUN, "unisound": UNISOUND}
_CHECKS = {"xingyun": _one_source}  # across fields: run once the fields are valid
assert RECORDS.keys() == VENDORS.keys(), "a vendor without a spec description (or one without a vendor)"


def video_schema(provider: str) -> cs.CoreSchema:
    """One whole video of ``provider``, its checks across fields included."""
    check = _CHECKS.get(provider)
    return cs.no_info_after_validator_function(check, RECORDS[provider]) if check else RECORDS[provider]


def any_video_schema() -> cs.CoreSchema:
    """One whole video of any provider, chosen by its ``provider`` field."""
    return cs.tagged_union_schema({name: video_schema(name) for name in RECORDS}, discriminator="provider")


def required_fields(provider: str) -> set[str]:
    """The fields a video of ``provider`` must write (after ``defaults`` are merged)."""
    return {name for name, f in RECORDS[provider]["fields"].items() if f.get("required")}


@functools.cache
def _validator(kind: str) -> SchemaValidator:
    """``video`` (one video of any provider) or ``videos`` (a file's videos by address),
    built on first use (well under a millisecond)."""
    one = any_video_schema()
    return SchemaValidator(one if kind == "video" else cs.dict_schema(cs.str_schema(), one))


def validate_video(body: Any) -> dict:
    """One merged video, validated (defaults filled in); raises ``ValidationError``."""
    return _validator("video").validate_python(body)


def validate_videos(merged: dict[str, dict]) -> tuple[dict[str, dict], list[tuple[tuple, str]]]:
    """Validate merged videos: (valid videos, [(loc starting with the address, message)]).

    All at once on the happy path; one by one only after a failure, so the videos that
    are valid still reach the PPT checks and every problem shows up in one run."""
    try:
        return _validator("videos").validate_python(merged), []
    except ValidationError:
        pass
    videos, problems = {}, []
    for address, body in merged.items():
        try:
            videos[address] = validate_video(body)
        except ValidationError as exc:
            problems += [describe(err, address) for err in exc.errors(include_url=False)]
    return videos, problems


def describe(err: dict, address: str) -> tuple[tuple, str]:
    """A validation error of one video as ((address, field, ...), a message for people)."""
    loc = tuple(err["loc"])
    if loc and loc[0] in VENDORS:  # the union's tag
        loc = loc[1:]
    loc = (address,) + loc
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        fixed = dict(VENDORS[err["loc"][0]].fixed_body) if err["loc"] and err["loc"][0] in VENDORS else {}
        if len(loc) == 2 and loc[1] in fixed:
            return loc, f"unknown field: `{loc[1]}` is always {fixed[loc[1]]} and is not written in specs"
        return loc, "unknown field"
    if kind == "missing":
        return loc, "required field is missing"
    if kind == "union_tag_not_found":
        return loc + ("provider",), f"required field is missing (one of: {', '.join(VENDORS)})"
    if kind == "union_tag_invalid":
        got = err["input"].get("provider") if isinstance(err["input"], dict) else None
        return loc + ("provider",), f"must be one of: {', '.join(VENDORS)} (got {got!r})"
    if kind in ("dict_type", "model_type") and isinstance(err.get("input"), list):
        return loc, "expected a mapping, got a list"
    return loc, msg.removeprefix("Value error, ")


def tag_problem(text: str) -> str | None:
    """Why the TTS tags of ``text`` are not balanced and well formed; None if fine.
    Only known tag names count as tags (``_TAG``); every other ``<`` is text."""
    stack: list[str] = []
    for m in _TAG.finditer(text):
        closing, name, attrs = m.group(1), m.group(2), m.group(3).strip()
        at = f"at character {m.start() + 1}"
        if closing:
            if attrs or not stack or stack[-1] != name:
                expected = f"</{stack[-1]}>" if stack else "no closing tag"
                return f"unbalanced TTS tag {m.group(0)!r} {at} (expected {expected})"
            stack.pop()
            continue
        if attrs.endswith("/"):
            return f"TTS tag {m.group(0)!r} {at} is self-closing; write <{name}>...</{name}>"
        if name == "sub" and not _SUB_ATTR.fullmatch(attrs):
            return f'TTS tag {m.group(0)!r} {at} needs exactly alias="..."'
        if name != "sub" and attrs:
            return f"TTS tag {m.group(0)!r} {at} takes no attributes"
        stack.append(name)
    if stack:
        return f"TTS tag <{stack[-1]}> is never closed"
    return None


def sub_alias(attrs: str) -> str | None:
    """The alias of a ``<sub alias="...">`` tag's attributes (unquoted), or None."""
    m = _SUB_ATTR.fullmatch(attrs.strip())
    return m.group(1)[1:-1] if m else None


def speech_text(text: str) -> str:
    """The text without its TTS tags (what is roughly spoken)."""
    return _TAG.sub("", text)


def address_problem(address: Any) -> str | None:
    """Why ``address`` is not a valid video address; None if it is."""
    if not isinstance(address, str):
        return f"an address must be a string ({ADDRESS_RULE})"
    if not _ADDRESS.fullmatch(address) or address.startswith("/"):
        return f"invalid address ({ADDRESS_RULE})"
    parts = address.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return f"invalid address ({ADDRESS_RULE})"
    hidden = next((part for part in parts if part.startswith(".")), None)
    if hidden is not None:  # outputs/.cache/ (docs/cache.md), .NAME.mp4.PID.part downloads, ...
        return (f"invalid address: its part {hidden!r} starts with '.', and names starting with '.' inside the "
                f"outputs are reconciler's own (the render cache .cache/, downloads in progress), which "
                f"`cache prune` and the clean-up of interrupted downloads may delete; rename it")
    return None


def _xingyun_body(video: dict) -> dict:
    body = {name: video[name] for name in ("look_name", "tts_vcn_name", "studio_name", "sub_title", "if_aigc_mark")}
    if video["video_name"] is not None:
        body["video_name"] = video["video_name"]
    if video["segment"] is not None:
        body["segment"] = [{name: value for name, value in seg.items() if value is not None}
                           for seg in video["segment"]]
    return body


def _unisound_body(video: dict) -> dict:
    body = {"text": video["text"], "speech_param": dict(video["speech_param"]),
            "video_param": {name: value for name, value in video["video_param"].items() if value is not None}}
    if video["user_id"] is not None:
        body["user_id"] = video["user_id"]
    return body


BODIES = {"xingyun": _xingyun_body, "unisound": _unisound_body}  # a validated video -> its vendor's body
assert BODIES.keys() == VENDORS.keys(), "a vendor without a request body builder"


def request_body(video: dict) -> dict:
    """The vendor request body of a validated video, defaults explicit, with the fields
    its vendor always carries (``model.Vendor.fixed_body``). A PPT video has no deck
    name yet."""
    provider = video["provider"]
    return {**BODIES[provider](video), **dict(VENDORS[provider].fixed_body)}


def tts_chars(request: dict | None) -> int:
    """Characters of speech in a vendor request body (``request_body``), for cost
    estimates: a Unisound script without its TTS tags, a Xingyun video's segments; a PPT
    video counts 0. Read from the body, not the model, so that a recorded request (the
    gallery's spent money) counts exactly as a planned one."""
    if not request:
        return 0
    if isinstance(request.get("text"), str):
        return len(speech_text(request["text"]))
    segments = request.get("segment")
    if isinstance(segments, list):
        return sum(len(s["text"]) for s in segments if isinstance(s, dict) and isinstance(s.get("text"), str))
    return 0
