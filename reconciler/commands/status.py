"""`reconciler status`: each video's state as recorded. No network, no specs.

Reads the state DB read-only (a missing one reads as empty and is not created).
``--json`` prints the manifest document (docs/formats.md) for the current state, the same
bytes ``apply`` would write to ``state/manifest.json``, except that a render stalled
past its vendor's ``stall_after`` also carries ``"stalled": true`` (its ``status``
stays ``rendering``: the contract fixes the status words), and a finished output
whose link is about to expire carries ``"warning"`` (see ``overdue``). These depend on
the clock, so they are never written to the manifest file.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter

from reconciler.model import RecordedVideo, Status
from reconciler.state import manifest, overdue
from reconciler.state import store as state_store
from reconciler.util import clock

_STATUS_STYLE = {
    Status.PENDING: "cyan", Status.RENDERING: "cyan", Status.FINISHED: "green",
    Status.FAILED: "red", Status.CANCELLED: "dim", Status.UNKNOWN: "magenta",
}


def run(project, as_json: bool) -> int:
    config = project.config()
    store = state_store.open_store(config, readonly=True)
    try:
        recorded = store.recorded()
        cache_index = {} if as_json else store.cache_index()
    finally:
        store.close()
    now = clock.utc_now().timestamp()
    stalled = {a for a, v in recorded.items() if overdue.is_stalled(v, config, now)}
    warnings = {a: w for a, v in recorded.items() if (w := overdue.download_warning(v, now))}
    if as_json:
        sys.stdout.write(_json(recorded, stalled, warnings, _public_url(config)))
        sys.stdout.flush()
        return 0
    from rich.console import Console

    # piped: one line per video whatever its length (for grep and awk), like kubectl
    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    console = Console(stderr=False, width=100_000 if piped else None)
    if not recorded:
        console.print(f"No videos recorded in {state_store.describe(config)} yet. "
                      "Run `reconciler plan` to see what `reconciler apply` would render.")
        return 0
    from reconciler.outputs import open_outputs

    where = None if piped else open_outputs(config)  # piped: each file in full, for grep and awk
    console.print(_table(recorded, stalled, wide=console.width >= 120, where=where))
    counts = Counter(v.status for v in recorded.values())
    parts = [f"{counts[s]} {s.value}" for s in Status if counts[s]]
    if stalled:
        parts.append(f"{len(stalled)} of them stalled")
    console.print(f"{len(recorded)} video{'s' if len(recorded) != 1 else ''}: " + ", ".join(parts) + ".")
    note = where.names_note() if where is not None else None
    if note and any(v.output_file and where.short_name(v) for v in recorded.values()):
        console.print(note, highlight=False)
    console.print(cache_line(cache_index), soft_wrap=True)
    _attention(console, recorded, config, now, stalled, warnings)
    return 0


def _public_url(config):
    """The manifest's ``url`` per video when ``outputs_public_url`` is set (no network)."""
    if not config.file.outputs_public_url:
        return None
    from reconciler.outputs import open_outputs

    return open_outputs(config).public_url


def _json(recorded: dict[str, RecordedVideo], stalled: set[str], warnings: dict[str, str], public_url=None) -> str:
    if not stalled and not warnings:
        return manifest.render_manifest(recorded, public_url)
    doc = manifest.manifest_document(recorded, public_url)
    for address, entry in doc["videos"].items():
        if address in stalled:
            entry["stalled"] = True
        if address in warnings:
            entry["warning"] = warnings[address]
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _attention(console, recorded, config, now: float, stalled: set[str], warnings: dict[str, str]) -> None:
    """Below the table: what needs a person, each with what to do."""
    from rich.text import Text

    for address in sorted(stalled):
        console.print(Text(f"Stalled: {address}: {overdue.describe_stall(recorded[address], config, now)}",
                           style="yellow"), soft_wrap=True)
    for address, warning in sorted(warnings.items()):
        console.print(Text(f"Warning: {address}: {warning}", style="yellow"), soft_wrap=True)
    unknown = sorted(a for a, v in recorded.items() if v.status is Status.UNKNOWN)
    for address in unknown:
        console.print(Text(f"Outcome unknown: {address}: the create was sent but its answer never arrived (it may "
                           f"be rendering, and paid for); its task found in the vendor's console is adopted by "
                           f"reconciler state import {address} TASK_ID; to render it again on purpose: "
                           f"reconciler apply --replace {address}", style="magenta"), soft_wrap=True)


def _table(recorded: dict[str, RecordedVideo], stalled: set[str], *, wide: bool, where=None):
    """One row per video. A narrow terminal drops the provider and time columns
    rather than folding every cell into a column of letters. An output whose name is
    longer than a terminal (in a bucket: ``s3://bucket/prefix/<address>/<sha256>.mp4``)
    is shown as the outputs store ``where`` shortens it (``OutputsStore.short_name``)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    columns = ["address", "provider", "status", "task", "output", "updated", "error"]
    if not wide:
        columns = [c for c in columns if c not in ("provider", "updated")]
    outputs = {address: _output_cell(v, where) + (" (lost)" if v.output_lost else "")
               for address, v in recorded.items()}
    short = max(map(len, outputs.values()), default=0) <= 24  # e.g. bucket outputs shown short: never folded
    for name in columns:
        table.add_column(name, no_wrap=(name == "output" and short) or name in ("address", "status", "task", "updated"),
                         overflow="fold")
    for address, v in sorted(recorded.items()):
        output = outputs[address]
        cells = {
            "address": Text(address), "provider": v.provider,
            "status": (Text(f"{v.status.value} (stalled)", style="yellow") if address in stalled
                       else Text(v.status.value, style=_STATUS_STYLE[v.status])), "task": v.task_id or "-",
            "output": Text(output), "updated": _short_time(v.finished_at or v.submitted_at),
            "error": Text(v.error or ""),
        }
        table.add_row(*(cells[c] for c in columns))
    return table


def _output_cell(v: RecordedVideo, where) -> str:
    """The output's file as recorded, or as the outputs store ``where`` shortens it."""
    if not v.output_file:
        return "-"
    return (where.short_name(v) if where is not None else None) or v.output_file


def _short_time(iso: str | None) -> str:
    """``2026-01-01T00:05:00+00:00`` as ``2026-01-01 00:05Z`` (state times are UTC)."""
    if not iso:
        return "-"
    return iso.replace("T", " ")[:16] + ("Z" if iso.endswith(("+00:00", "Z")) else "")


def cache_line(index: dict[str, dict]) -> str:
    """The render cache's size, for people (docs/cache.md)."""
    from reconciler.outputs import render_cache

    n = len(index)
    return (f"Render cache: {n} cached render{'s' if n != 1 else ''}, "
            f"{human_bytes(render_cache.total_bytes(index))} (`reconciler cache prune` removes unused ones).")


def human_bytes(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"
