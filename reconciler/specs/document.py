"""One spec file's document: its shape (only ``defaults`` and ``videos``), its addresses,
defaults merged under each video, and every problem as ``file:line``.

Lines are looked up in the YAML node tree (``yamlio.locate``) only when there is an
error; a rendered template's message also quotes the rendered line. A file whose
merged videos would expand past what it could spell out (aliases in ``defaults``)
is refused before validation could cost hours.
"""

from __future__ import annotations

from reconciler.errors import Diagnostic
from reconciler.util import yamlio

_TOP_KEYS = ("defaults", "videos")


def merged_videos(doc: "Document", data) -> dict[str, dict]:
    """Check the file's shape and addresses; return each video with defaults merged."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        doc.error((), "", "a spec file must be a mapping with `defaults` and `videos`")
        return {}
    for key in data:
        if key not in _TOP_KEYS:
            doc.error((key,), str(key), "unknown top-level key (a spec file holds only `defaults` and `videos`)")
    defaults, videos = _or_empty(data.get("defaults")), _or_empty(data.get("videos"))
    if not isinstance(defaults, dict):
        doc.error(("defaults",), "defaults", "must be a mapping of video fields")
        return {}
    if not isinstance(videos, dict):
        doc.error(("videos",), "videos", "must be a mapping of addresses to videos")
        return {}
    merged = {address: merge(defaults, body) for address, body in videos.items() if _check_entry(doc, address, body)}
    return merged if _bounded(doc, defaults, merged) else {}


def _bounded(doc: "Document", defaults: dict, merged: dict[str, dict]) -> bool:
    """Whether the merged videos stay within what the file could spell out: an aliased
    structure in ``defaults`` is validated once per video, so a small file with aliases
    (or a big ``defaults`` under many videos) could otherwise cost hours."""
    limit = len(doc.text) + yamlio.MAX_ALIAS_EXPANSION
    memo: dict = {}
    if "*" not in doc.text and len(merged) * yamlio.expanded_size(defaults, memo) <= limit:
        return True  # no alias, and the defaults are small enough to be copied under every video
    total = sum(yamlio.expanded_size(video, memo) for video in merged.values())
    if total <= limit:
        return True
    doc.error(("defaults",), "defaults", f"merged under the videos, defaults and aliases expand to {total:,} values "
                                         f"(more than {limit:,}); write the videos out or use fewer aliases")
    return False


def _or_empty(value):
    return {} if value is None else value


def _check_entry(doc: "Document", address, body) -> bool:
    from reconciler.specs.schema import address_problem

    problem = address_problem(address)
    if problem is None and not isinstance(body, (dict, type(None))):
        problem = "a video must be a mapping of fields"
    if problem:
        doc.error(("videos", address), f"videos.{address}", problem)
    return problem is None


def merge(base: dict, over: dict | None) -> dict:
    """``over`` on top of ``base``: mappings key by key, lists and scalars replaced whole."""
    if not over:
        return base
    if not base:
        return over
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        out[key] = merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


class Document:
    """One parsed (maybe rendered) file: turns error paths into ``file:line`` diagnostics."""

    def __init__(self, rel: str, text: str, template: bool):
        self.rel, self.text, self.template = rel, text, template
        self.root = None
        self.diagnostics: list[Diagnostic] = []
        self.decks: list[tuple] = []

    def add(self, line: int, where: str, message: str) -> None:
        if self.template and line:
            lines = self.text.splitlines()
            shown = lines[line - 1].strip() if line <= len(lines) else ""
            message += f" (rendered line {line}: {shown[:120]})"
        self.diagnostics.append(Diagnostic(self.rel, line, where, message))

    def error(self, path: tuple, where: str, message: str) -> None:
        self.add(yamlio.locate(self.root, path)[0], where, message)

    def field_error(self, loc: tuple, message: str) -> None:
        """An error at ``loc`` = (address, field, ...): found in the video or its defaults."""
        address, sub = loc[0], tuple(loc[1:])
        line, found = yamlio.locate(self.root, ("videos", address) + sub)
        if not found and sub:
            default_line, in_defaults = yamlio.locate(self.root, ("defaults",) + sub)
            if in_defaults:
                line, message = default_line, f"{message} (from defaults)"
        self.add(line, f"videos.{address}{_where(sub)}", message)


def _where(sub: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in sub)

