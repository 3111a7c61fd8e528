"""What a valid video is, per provider, and the exact request body each one sends.

The pydantic models are the one description of a spec: they validate a video after its
file's ``defaults`` were merged in, and they produce the JSON Schema printed by
``reconciler schema``. Models are strict (no silent ``"55"`` -> 55) and forbid unknown
fields. ``request_body`` turns a validated model into exactly what the vendor receives,
with every documented default written out, so that writing a default in a spec does not
change the render fingerprint. The metadata fields (``labels``, ``prevent_destroy``, on
``_Video``) are not in the body, so they never change it.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter,
                      ValidationError, WithJsonSchema, create_model, model_validator)

from reconciler.model import VENDORS

TTS_TAGS = ("value", "code", "tel", "py", "pname", "word", "phrase", "letter", "mute", "sub")
MAX_TEXT = 5000
ADDRESS_RULE = "1-200 characters of A-Z a-z 0-9 _ - . /, no empty, '.' or '..' part, not starting with '/'"
_ADDRESS = re.compile(r"[A-Za-z0-9_.\-/]{1,200}")
# A TTS tag is ``<name ...>`` or ``</name>`` with a known name; any other ``<`` is text
# (``3<5 且 6>2`` is a comparison, not a broken tag: VENDOR-NOTES).
_TAG = re.compile(r"<(/?)(" + "|".join(TTS_TAGS) + r")(?=[\s/>])([^<>]*)>")
_SUB_ATTR = re.compile(r"""alias\s*=\s*("[^"]*"|'[^']*')""")


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


NonBlank = Annotated[str, Field(min_length=1), AfterValidator(_not_blank)]
Percent = Annotated[int, Field(ge=0, le=100)]
Bit = Annotated[int, Field(ge=0, le=1)]
TtsText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(_not_blank),
                    AfterValidator(_tts_tags)]
SubTitle = Annotated[Literal["on", "off"], BeforeValidator(_on_off),
                     WithJsonSchema({"anyOf": [{"enum": ["on", "off"]}, {"type": "boolean"}]})]


class _Strict(BaseModel):
    # Built on first use, not at import: a file of one provider builds only its models.
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class Segment(_Strict):
    """One spoken segment of a Xingyun video, optionally shown over a media URL."""

    text: NonBlank
    media_url: Optional[NonBlank] = None


class _Video(_Strict):
    labels: dict[str, str] = Field(default_factory=dict, description="Metadata only; never triggers a render.")
    prevent_destroy: bool = Field(default=False, description="A plan that would delete or replace it fails.")


class XingyunVideo(_Video):
    """Mofa Xingyun create_render_task, by segments or by a PPT deck."""

    provider: Literal["xingyun"]
    look_name: NonBlank
    tts_vcn_name: NonBlank
    studio_name: NonBlank
    video_name: Optional[NonBlank] = None
    sub_title: SubTitle = "on"
    if_aigc_mark: bool = True
    segment: Optional[Annotated[list[Segment], Field(min_length=1)]] = None
    ppt_file: Optional[NonBlank] = Field(default=None, description="A .pptx relative to the spec file.")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.segment is None) == (self.ppt_file is None):
            raise ValueError("give exactly one of `segment` or `ppt_file`")
        if self.ppt_file is not None and not self.ppt_file.lower().endswith(".pptx"):
            raise ValueError("ppt_file must name a .pptx file")
        return self


class SpeechParam(_Strict):
    vcn: NonBlank
    speed: Percent = 50
    volume: Percent = 50
    pitch: Percent = 50
    bright: Annotated[int, Field(ge=50, le=100)] = 50


class VideoParam(_Strict):
    template: NonBlank
    watermask: Optional[Bit] = None
    background: Bit = Field(description="Required (必传): 0 = use backgroundImage, 1 = no background.")
    backgroundImage: Optional[NonBlank] = None


class UnisoundVideo(_Video):
    """Unisound ai-vms-nrt/start with type 2 (text to video)."""

    provider: Literal["unisound"]
    text: TtsText
    speech_param: SpeechParam
    video_param: VideoParam
    user_id: Optional[NonBlank] = None


Video = Annotated[Union[XingyunVideo, UnisoundVideo], Field(discriminator="provider")]
_MODELS = {"xingyun": XingyunVideo, "unisound": UnisoundVideo}
assert _MODELS.keys() == VENDORS.keys(), "a vendor without a spec model (or a model without a vendor)"


@functools.cache
def _adapter(kind: str) -> TypeAdapter:
    """The validators, each built on first use (~10 ms apiece): ``video`` (one video of
    any provider, the messages of a failure), ``videos`` (a file's videos of any
    provider) or ``videos:<provider>`` (a file whose videos all name that provider)."""
    if kind == "video":
        return TypeAdapter(Video)
    if kind == "videos":
        return TypeAdapter(dict[str, Video])
    return TypeAdapter(dict[str, _MODELS[kind.removeprefix("videos:")]])


def __getattr__(name: str):
    """``VIDEO`` and ``VIDEOS``, the adapters of one video and of a file's videos, built
    when first read."""
    if name in ("VIDEO", "VIDEOS"):
        return _adapter(name.lower())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def validate_videos(merged: dict[str, dict]) -> tuple[dict[str, _Video], list[tuple[tuple, str]]]:
    """Validate merged videos: (valid models, [(loc starting with the address, message)]).

    All at once on the happy path (through the one provider's model when every video
    names the same one: the other's is then never built; a discriminated union picks
    exactly that model, so the result is the same); one by one only after a failure, so
    the videos that are valid still reach the PPT checks and every problem shows up in
    one run, each with the union's messages."""
    providers = {body.get("provider") if isinstance(body, dict) else None for body in merged.values()}
    provider = providers.pop() if len(providers) == 1 else None
    kind = f"videos:{provider}" if isinstance(provider, str) and provider in _MODELS else "videos"
    try:
        return _adapter(kind).validate_python(merged), []
    except ValidationError:
        pass
    one = _adapter("video")
    models, problems = {}, []
    for address, body in merged.items():
        try:
            models[address] = one.validate_python(body)
        except ValidationError as exc:
            problems += [describe(err, address) for err in exc.errors(include_url=False)]
    return models, problems


def describe(err: dict, address: str) -> tuple[tuple, str]:
    """A pydantic error of one video as ((address, field, ...), a message for people)."""
    loc = tuple(err["loc"])
    if loc and loc[0] in VENDORS:  # the discriminated union's tag
        loc = loc[1:]
    loc = (address,) + loc
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        if loc[1:] == ("type",):
            return loc, "unknown field: `type` is always 2 and is not written in specs"
        return loc, "unknown field"
    if kind == "missing":
        return loc, "required field is missing"
    if kind == "union_tag_not_found":
        return loc + ("provider",), f"required field is missing (one of: {', '.join(VENDORS)})"
    if kind == "union_tag_invalid":
        got = err["input"].get("provider") if isinstance(err["input"], dict) else None
        return loc + ("provider",), f"must be one of: {', '.join(VENDORS)} (got {got!r})"
    if kind == "model_type" and isinstance(err.get("input"), list):
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


def tts_parts(text: str):
    """``text`` cut at its TTS tags: ``(None, str)`` for plain text, ``(tag, attrs)`` for
    ``<tag attrs>``, ``("/" + tag, "")`` for ``</tag>``. The one reading of the tag
    grammar (``_TAG``), for views that show tags (the gallery)."""
    at = 0
    for m in _TAG.finditer(text):
        if m.start() > at:
            yield None, text[at:m.start()]
        yield ("/" if m.group(1) else "") + m.group(2), m.group(3).strip()
        at = m.end()
    if at < len(text):
        yield None, text[at:]


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
    if any(part in ("", ".", "..") for part in address.split("/")):
        return f"invalid address ({ADDRESS_RULE})"
    return None


def request_body(video: _Video) -> dict:
    """The vendor request body, defaults explicit. A PPT video has no deck name yet."""
    if isinstance(video, XingyunVideo):
        body = {"look_name": video.look_name, "tts_vcn_name": video.tts_vcn_name,
                "studio_name": video.studio_name, "sub_title": video.sub_title,
                "if_aigc_mark": video.if_aigc_mark}
        if video.video_name is not None:
            body["video_name"] = video.video_name
        if video.segment is not None:
            body["segment"] = [_segment(s) for s in video.segment]
        return body
    sp, vp = video.speech_param, video.video_param
    body = {"text": video.text,
            "speech_param": {"vcn": sp.vcn, "speed": sp.speed, "volume": sp.volume,
                             "pitch": sp.pitch, "bright": sp.bright},
            "video_param": vp.model_dump(exclude_none=True), "type": 2}
    if video.user_id is not None:
        body["user_id"] = video.user_id
    return body


def _segment(seg: Segment) -> dict:
    return {"text": seg.text} if seg.media_url is None else {"text": seg.text, "media_url": seg.media_url}


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


def _partial(model: type[BaseModel]) -> type[BaseModel]:
    """The same fields, all optional: what one entry may hold before defaults merge in."""
    fields = {name: (Optional[f.rebuild_annotation()], Field(default=None, description=f.description))
              for name, f in model.model_fields.items()}
    return create_model(f"{model.__name__}Entry", __config__=ConfigDict(extra="forbid"), **fields)


def spec_file_schema() -> dict:
    """JSON Schema of one spec file (entries are partial; merged videos must be whole)."""
    entry = Union[_partial(XingyunVideo), _partial(UnisoundVideo)]
    file_model = create_model(
        "SpecFile", __config__=ConfigDict(extra="forbid"),
        defaults=(Optional[entry], Field(default=None, description="Merged under every video of this file.")),
        videos=(Optional[dict[str, entry]], Field(default=None, description="Videos by address.")))
    schema = file_model.model_json_schema()
    schema["properties"]["videos"]["anyOf"][0]["propertyNames"] = {
        "pattern": r"^(?!/)(?!.*(^|/)\.{0,2}(/|$))[A-Za-z0-9_.\-/]{1,200}$"}
    merged = TypeAdapter(Video).json_schema(ref_template="#/$defs/{model}")
    schema.setdefault("$defs", {}).update(merged.pop("$defs", {}))
    schema["$defs"]["MergedVideo"] = merged
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = ("A reconciler spec file. Each entry of `videos`, after `defaults` are "
                             "merged under it, must be a whole #/$defs/MergedVideo.")
    return schema
