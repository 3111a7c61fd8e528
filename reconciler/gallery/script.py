"""A script as a reviewer reads it: TTS tags shown as what they do, everything escaped.

Why a module of its own: a script is user text that goes into HTML, so this is the one
place where it is escaped, and the one place that knows how each Unisound TTS tag looks
on the page (a pause as a visible ``PAUSE 300 ms`` marker, a number or phone reading as a labelled span,
a substitution as ``mmHg → 毫米汞柱``). The tag grammar itself is read from
``specs.schema.tts_parts``: anything that is not a known tag is text, so a script that
holds ``<script>`` or ``<img onerror=...>`` shows those characters and runs nothing.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from reconciler.specs import schema

# tag -> (short label shown on the span, what it does: the hover title)
TAG_LABELS = {
    "value": ("number", "read as a number (110: one hundred and ten)"),
    "code": ("digits", "read digit by digit (110: one one zero)"),
    "tel": ("phone", "read as a phone number (1 as yao)"),
    "py": ("pinyin", "pronounced as this pinyin"),
    "pname": ("name", "a person's name (surname reading)"),
    "word": ("word", "kept together as one word"),
    "phrase": ("phrase", "a phrase: pause after it"),
    "letter": ("spelled", "spelled letter by letter"),
    "mute": ("pause", "a pause"),
    "sub": ("says", "read as the alias"),
}


def tts_html(text: str) -> Markup:
    """``text`` (a Unisound script) as safe HTML with its tags made visible."""
    out: list[str] = []
    in_mute = 0
    for tag, value in schema.tts_parts(text):
        if tag is None:
            out.append(f"{escape(value)} ms" if in_mute else str(escape(value)))
        elif tag.startswith("/"):
            in_mute -= tag == "/mute"
            out.append("</span>")
        elif tag == "mute":
            in_mute += 1
            out.append('<span class="tts tts-mute" title="a pause (milliseconds)"><span class="tts-k">pause</span>')
        else:
            label, title = TAG_LABELS.get(tag, (tag, tag))
            if tag == "sub":
                alias = schema.sub_alias(value) or ""
                label, title = f"says {alias}", f"read as {alias!r}"
            out.append(f'<span class="tts tts-{escape(tag)}" title="{escape(title)}">'
                       f'<span class="tts-k">{escape(label)}</span>')
    return Markup("".join(out))


def segments_html(segments: list[dict]) -> Markup:
    """A Xingyun script: its segments in order, each with its slide or image link."""
    items = []
    for seg in segments:
        media = seg.get("media_url")
        link = (f' <a class="media" href="{escape(media)}" rel="noreferrer noopener" target="_blank">image</a>'
                if isinstance(media, str) and media.startswith(("http://", "https://")) else "")
        items.append(f"<li>{escape(seg.get('text', ''))}{link}</li>")
    return Markup(f'<ol class="segments">{"".join(items)}</ol>')


def script_html(provider: str, request: dict | None) -> Markup:
    """What the video says, from the request that was sent to render it."""
    if not request:
        return Markup('<p class="muted">No script recorded.</p>')
    if isinstance(request.get("text"), str):
        return Markup(f'<p class="script">{tts_html(request["text"])}</p>')
    if isinstance(request.get("segment"), list):
        return segments_html(request["segment"])
    if provider == "xingyun":
        return Markup('<p class="muted">Narrated from the notes of a PowerPoint deck (see the spec file).</p>')
    return Markup('<p class="muted">No script recorded.</p>')
