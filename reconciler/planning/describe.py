"""A render change in words: which request fields differ, and a short diff of the
script, for a plan's reasons, its details and the pull-request comment (``markdown``).

Why a module of its own: the planner decides what to do; this only says what differs,
and its rules (flattening a request, capping a diff, clipping long lines) change for
readers, never for decisions.
"""

from __future__ import annotations

import json

from reconciler.model import DesiredVideo, RecordedVideo

MAX_FIELD_CHANGES = 4  # request fields named in one reason before "and N more"
MAX_DIFF_LINES = 6  # lines of script diff kept in Change.details
MAX_PER_SIDE = 3  # removed (or added) lines shown per changed block
DIFF_WIDTH = 100  # characters of one script line shown in a diff


def describe_render_change(d: DesiredVideo, r: RecordedVideo) -> tuple[str, tuple[str, ...]]:
    """Why the fingerprints differ, in words, plus a short script diff (or ``()``)."""
    if d.provider != r.provider:
        return f"provider changed: {r.provider} → {d.provider}", ()
    if r.request is None:
        return "render settings changed", ()
    parts: list[str] = []
    details: tuple[str, ...] = ()
    old_script, new_script = _script(r.request), _script(d.request)
    if old_script != new_script:
        parts.append("script changed")
        details = script_diff(old_script or "", new_script or "")
    fields = _field_changes(_flatten(_without_script(r.request)), _flatten(_without_script(d.request)))
    parts += fields[:MAX_FIELD_CHANGES]
    if len(fields) > MAX_FIELD_CHANGES:
        parts.append(f"and {len(fields) - MAX_FIELD_CHANGES} more fields changed")
    if not parts:
        parts.append("the PPT deck changed" if d.ppt_file or d.ppt_sha256 else "render settings changed")
    return "; ".join(parts), details


def _script(request: dict) -> str | None:
    """The spoken text: Unisound ``text``, or Xingyun segment texts one per line."""
    segments = request.get("segment")
    if isinstance(segments, list):
        return "\n".join(str(s.get("text", "")) if isinstance(s, dict) else str(s) for s in segments)
    text = request.get("text")
    return text if isinstance(text, str) else None


def _without_script(request: dict) -> dict:
    out = {k: v for k, v in request.items() if k != "text"}
    if isinstance(out.get("segment"), list):
        out["segment"] = [{k: v for k, v in s.items() if k != "text"} if isinstance(s, dict) else s
                          for s in out["segment"]]
    return out


def _flatten(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        out = {}
        for i, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


_MISSING = object()


def _field_changes(old: dict[str, object], new: dict[str, object]) -> list[str]:
    out = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key, _MISSING), new.get(key, _MISSING)
        if a != b:
            out.append(f"{key} changed: {fmt(a)} → {fmt(b)}")
    return out


def fmt(value, width: int = 40) -> str:
    if value is _MISSING:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def script_of(request: dict | None) -> str | None:
    """The spoken text of a vendor request (``None`` if it has none): for the diffs."""
    return _script(request) if isinstance(request, dict) else None


def script_diff(old: str, new: str, *, max_lines: int = MAX_DIFF_LINES,
                max_per_side: int = MAX_PER_SIDE) -> tuple[str, ...]:
    """A few ``-``/``+`` lines of a line diff of two scripts (a unified diff without
    context or headers), long lines clipped around the first difference so the
    change itself stays visible. Each changed block shows its removed lines and then
    its added ones, at most MAX_PER_SIDE of each, MAX_DIFF_LINES in all."""
    import difflib  # only when a script changed: a plain plan pays nothing for it

    a, b = old.splitlines(), new.splitlines()
    out: list[str] = []
    total = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        total += (i2 - i1) + (j2 - j1)
        removed, added = a[i1:i2][:max_per_side], b[j1:j2][:max_per_side]
        for k, line in enumerate(removed):
            out.append("- " + _clip(line, added[k] if k < len(added) else ""))
        for k, line in enumerate(added):
            out.append("+ " + _clip(line, removed[k] if k < len(removed) else ""))
    if len(out) > max_lines:
        out = out[:max_lines]
    if total > len(out):
        out.append(f"… ({total - len(out)} more changed lines)")
    return tuple(out)


def _clip(line: str, counterpart: str) -> str:
    if len(line) <= DIFF_WIDTH:
        return line
    common = 0
    for x, y in zip(line, counterpart):
        if x != y:
            break
        common += 1
    start = max(0, min(common - 20, len(line) - DIFF_WIDTH + 2))
    end = start + DIFF_WIDTH - 2
    return ("…" if start else "") + line[start:end] + ("…" if end < len(line) else "")
