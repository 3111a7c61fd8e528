"""Two renderings of a Plan: the JSON document of docs/formats.md and Terraform-like text.

Kept apart from ``plan`` so planning stays pure and free of rich, and from the CLI so
``apply`` (which shows the plan before asking ``yes``) and ``watch`` render a plan the
same way. The JSON document is a public format: its keys are the contract's, plus
an optional ``details`` list per change and an ``estimate`` of the cost. A rename's create
and delete (``moved_from`` / ``moved_to``, docs/cache.md) are one move line in the text.
"""

from __future__ import annotations

import functools
import json
import operator
from json.encoder import encode_basestring as _string  # C, as dumps(ensure_ascii=False)
from typing import TYPE_CHECKING

from reconciler import model
from reconciler.model import Action, Change, Plan
from reconciler.planning import planner

if TYPE_CHECKING:  # rich is imported only when text is drawn: `plan --json` skips it
    from rich.console import Console
    from rich.text import Text

FORMAT_VERSION = 1
_BATCH = 500  # change blocks per console.print

# symbol and style per action, as in Terraform
_SYMBOLS = {
    Action.CREATE: ("+", "green"),
    Action.REPLACE: ("-/+", "yellow"),  # drawn as a red "-" and a yellow "/+"
    Action.UPDATE: ("~", "yellow"),
    Action.DELETE: ("-", "red"),
}


def change_to_json(change: Change) -> dict:
    entry = {
        "address": change.address, "action": change.action.value, "provider": change.provider,
        "reason": change.reason, "file": change.file, "renders": change.renders,
    }
    if change.moved_from is not None:
        entry["moved_from"] = change.moved_from
    if change.moved_to is not None:
        entry["moved_to"] = change.moved_to
    if change.details:
        entry["details"] = list(change.details)
    return entry


def plan_to_json(plan: Plan) -> dict:
    """The docs/formats.md document: every change (noops included) sorted by address."""
    changes = sorted(plan.changes, key=lambda c: c.address)
    return {
        "format_version": FORMAT_VERSION,
        "changes": [change_to_json(c) for c in changes],
        "summary": plan.summary,
        "estimate": {"renders": plan.renders, "tts_chars": plan.tts_chars},
    }


def plan_json_text(plan: Plan, cost=None) -> str:
    """``plan_to_json`` as text: one change per line. Readable and diffable like
    ``indent=2``, and byte for byte what ``json.dumps(..., ensure_ascii=False)`` makes
    of each change, but each line is put together from json's C string encoder
    (``json.dumps`` per change costs ~12 µs in its Python wrapper: 0.1 s for 10,000)."""
    changes = ",\n    ".join(_change_lines(sorted(plan.changes, key=_address)))
    dump = functools.partial(json.dumps, ensure_ascii=False)
    rest = {"summary": plan.summary, "estimate": _estimate_json(plan, cost)}
    tail = "".join(f',\n  "{k}": {dump(v)}' for k, v in rest.items())
    body = f"[\n    {changes}\n  ]" if changes else "[]"
    return f'{{\n  "format_version": {FORMAT_VERSION},\n  "changes": {body}{tail}\n}}\n'


def _estimate_json(plan: Plan, cost) -> dict:
    """The estimate; with prices set, ``"price": {currency: amount}`` too; over budget,
    ``"over_budget"``: each figure over its limit, in words."""
    estimate = {"renders": plan.renders, "tts_chars": plan.tts_chars}
    if cost is not None and cost.money:
        from reconciler.planning.budget import rounded  # cost is set: budget is imported already

        estimate["price"] = {currency: float(rounded(amount)) for currency, amount in sorted(cost.money.items())}
    if cost is not None and cost.over:  # refused (exit 1) unless --allow-over-budget
        estimate["over_budget"] = list(cost.over)
    return estimate


_address = operator.attrgetter("address")


def _change_lines(changes: list[Change]) -> list[str]:
    """``json.dumps(change_to_json(change), ensure_ascii=False)`` of each change, faster:
    the keys are fixed, so only the values go through the encoder, and the fields are
    read in C (``_FIELDS``), one loop for all changes."""
    out = []
    for change, (address, action, provider, reason, file, from_cache, details, moved_from, moved_to, parts) in zip(
            changes, map(_FIELDS, changes)):
        try:
            line = (f'{{"address": {_string(address)}, "action": {_ACTIONS[action]}, '
                    f'"provider": {_string(provider)}, "reason": {_string(reason)}, '
                    f'"file": {"null" if file is None else _string(file)}'
                    f'{f", {_RENDERS_KEY}: {change.renders}" if parts else _NO_RENDER if from_cache else _RENDERS[action]}')
            if moved_from is not None:
                line += f', "moved_from": {_string(moved_from)}'
            if moved_to is not None:
                line += f', "moved_to": {_string(moved_to)}'
        except (TypeError, KeyError):  # a value that is not a string (never in practice): stay exact
            out.append(json.dumps(change_to_json(change), ensure_ascii=False))
            continue
        if details:
            line += f', "details": {json.dumps(list(details), ensure_ascii=False)}'
        out.append(line + "}")
    return out


_FIELDS = operator.attrgetter("address", "action", "provider", "reason", "file", "from_cache", "details",
                              "moved_from", "moved_to", "parts")
_RENDERS_KEY = '"renders"'  # a video by parts counts its parts (docs/parts.md)
_ACTIONS = {action: _string(action.value) for action in Action}
_RENDERS = {action: f', "renders": {int(action in (Action.CREATE, Action.REPLACE))}' for action in Action}
_NO_RENDER = ', "renders": 0'  # served from the render cache (docs/cache.md)


def summary_line(plan: Plan) -> str:
    s = plan.summary
    line = (f"Plan: {s['create']} to create, {s['replace']} to replace, {s['update']} to update, "
            f"{s['delete']} to delete, {s['noop']} unchanged.")
    moves = len(moved_pairs(plan))
    if moves:  # shown as one line each, counted as what apply does (docs/cache.md)
        line += f" {'A move counts' if moves == 1 else f'Each of the {moves} moves counts'} as a create and a delete."
    return line


def print_plan(plan: Plan, console: Console, cost=None) -> None:
    """Terraform-like output: one block per change (noops omitted), then the summary.
    ``cost`` (``planning.budget.Cost``, when a budget or a price is set) adds the
    estimate in money and the budget to the last line."""
    from rich.text import Text

    unknown = [c for c in plan.changes if planner.outcome_unknown(c)]
    print_held(plan, console)
    if not plan.has_changes:
        if unknown:
            console.print(Text("No changes. Nothing will be rendered; some creates have an unknown outcome:",
                               style="bold yellow"), soft_wrap=True)
            console.print(_unknown_note(unknown), soft_wrap=True)
        elif any(c.held_for is not None for c in plan.changes):
            console.print(Text("No changes this checkout can carry out.", style="bold yellow"), soft_wrap=True)
        else:
            console.print(Text("No changes. Your renders match the specs.", style="bold green"), soft_wrap=True)
        return
    console.print("reconciler will perform the following actions:")
    console.print()
    moves = moved_pairs(plan)
    shown = [c for c in plan.changes if c.action is not Action.NOOP and c.address not in moves]
    for start in range(0, len(shown), _BATCH):  # one print per batch: rich's per-call cost adds up
        batch = Text()
        for change in shown[start:start + _BATCH]:
            if change.moved_from in moves:
                batch.append_text(_move_block(console, change, moves[change.moved_from]))
            else:
                batch.append_text(_change_block(console, change))
        console.print(batch, soft_wrap=True, end="")
    abandoned = [c for c in plan.changes if _abandons(c)]
    if abandoned:
        console.print(Text(_abandon_note(abandoned), style="yellow"))
    if unknown:
        console.print(_unknown_note(unknown), soft_wrap=True)
    # one line each, never wrapped: scripts grep for them
    console.print(Text(summary_line(plan), style="bold"), soft_wrap=True)
    extra = ""
    if cost is not None and cost.money:
        extra += f" About {cost.money_text}."
    if cost is not None and cost.budget is not None:
        extra += f" Budget: {cost.limits_text()} per plan."
    console.print(f"Estimated cost: {_count(plan.renders, 'render')}, {_count(plan.tts_chars, 'TTS character')}."
                  + extra, soft_wrap=True)


def print_held(plan: Plan, console: Console) -> None:
    """The changes held back because their render belongs to another vendor account
    (docs/team.md), each with its owner: not carried out here (apply exits 1 on them)."""
    held = [c for c in plan.changes if c.held_for is not None]
    if not held:
        return
    from rich.text import Text

    n = len(held)
    note = Text(f"Owned by another account ({n} video{'s' if n != 1 else ''}): not carried out by this checkout; "
                "run it where that account's credentials (or simulator) are:\n", style="bold yellow")
    for change in held:
        note.append(f"  {change.address}: {change.reason}\n")
    console.print(note, soft_wrap=True, end="")


def _abandons(change: Change) -> bool:
    r = change.recorded
    return (change.action in (Action.DELETE, Action.REPLACE) and r is not None and r.unfinished
            and r.task_id is not None and not model.can_cancel(r.provider))


def _abandon_note(changes: list[Change]) -> str:
    names = [c.address for c in changes[:5]] + ([f"{len(changes) - 5} more"] if len(changes) > 5 else [])
    vendors = sorted({model.display_name(c.recorded.provider) for c in changes})
    n = len(changes)
    return (f"Note: {n} unfinished render{'s' if n != 1 else ''} ({', '.join(names)}) will be abandoned, "
            f"not cancelled: {' and '.join(vendors)} {'has' if len(vendors) == 1 else 'have'} no cancel API.")


def _unknown_note(changes: list[Change]) -> Text:
    """The creates whose outcome is unknown: never re-sent by this plan, each with the
    command that renders it again on purpose (docs/specs.md). Listed in full: each may be
    a paid render nobody sees yet, and the commands are meant to be copied."""
    from rich.text import Text

    n = len(changes)
    note = Text(f"Outcome unknown ({n} video{'s' if n != 1 else ''}): the create was sent but its answer never "
                "arrived, so it may be rendering and already paid for. It is not sent again; check the "
                "vendor's console: a task found there is adopted, with no second payment, by "
                "`reconciler state import ADDR TASK_ID`; otherwise render it again on purpose with:\n",
                style="yellow")
    for change in changes:
        note.append(f"  {planner.replace_command(change.address)}\n")
    return note


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _change_block(console: Console, change: Change) -> Text:
    """``  -/+ address  (provider, action)  file`` then the reason and details, indented
    so that long lines wrap under themselves rather than at column 0; ends with a
    blank line. Wrapped here, so it is printed with ``soft_wrap``."""
    from rich.text import Text

    symbol, style = _SYMBOLS[change.action]
    block = Text("  ")
    if change.action is Action.REPLACE:
        block.append("-", style="bold red")
        block.append("/+ ", style="bold yellow")
    else:
        block.append(f"{symbol} ", style=f"bold {style}")
    block.append(change.address, style="bold")
    block.append(f"  ({change.provider}, {change.action.value})", style="dim")
    if change.file:
        block.append(f"  {change.file}", style="dim")
    block.append("\n")
    _append_indented(console, block, Text(change.reason), 6)
    for line in change.details:
        _append_indented(console, block, Text(line, style=_detail_style(line)), 8)
    block.append("\n")
    return block


def moved_pairs(plan: Plan) -> dict[str, Change]:
    """The deletes of renames (docs/cache.md) whose create is in ``plan`` too, by the old
    address: each pair is shown as one move."""
    if not plan.count(Action.DELETE):
        return {}  # the common case, counted in C
    creates = {c.moved_from: c.address for c in plan.changes if c.moved_from is not None}
    return {c.address: c for c in plan.changes if c.moved_to is not None and creates.get(c.address) == c.moved_to}


def move_line(create: Change) -> str:
    """A rename in words (docs/cache.md): one line for its create and delete."""
    return f"{create.moved_from} has moved to {create.address} ({planner.FROM_CACHE})"


def _move_block(console: Console, create: Change, delete: Change) -> Text:
    """``  → old has moved to new (from the render cache: no render)  (provider, move)  file``:
    a rename's create and delete as one block. The delete's reason follows only when the
    old address still has a render running (what happens to it)."""
    from rich.text import Text

    block = Text("  ")
    block.append("→ ", style="bold cyan")
    block.append(move_line(create), style="bold")
    block.append(f"  ({create.provider}, move)", style="dim")
    if create.file:
        block.append(f"  {create.file}", style="dim")
    block.append("\n")
    r = delete.recorded
    if r.unfinished or r.status is model.Status.UNKNOWN:
        _append_indented(console, block, Text(delete.reason), 6)
    block.append("\n")
    return block


def _append_indented(console: Console, block: Text, text: Text, indent: int) -> None:
    """Append ``text`` wrapped to the console width with every line indented (a
    hanging indent rich lacks; Padding would pad lines with trailing spaces)."""
    width = max(20, console.width - indent)
    lines = [text] if text.cell_len <= width else text.wrap(console, width, overflow="fold")
    for line in lines:
        line.rstrip()
        block.append(" " * indent)
        block.append_text(line)
        block.append("\n")


def _detail_style(line: str) -> str:
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    return "dim"
