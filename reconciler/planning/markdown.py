"""`plan --markdown`: the plan as GitHub-flavoured Markdown for a pull-request comment.

Reviewers read a plan in a PR before money is spent (as Atlantis shows Terraform's).
So the comment leads with the summary and the cost, then a table of the changes, then
the script diffs folded in ``<details>``. Long plans stay readable inside GitHub's
comment limit (65,536 characters): unchanged videos are one line, the table and
the diffs are capped, and every cap says what it left out. Pure text: no rich.

Text from the specs and the state (video names, labels, file names, reasons, script
diffs) is the repository's users', so it never becomes markup of its own in the
comment: outside code it makes no @mention, no issue reference, no link or image, no
code span and no HTML (``_prose``); in code (addresses, the fenced diff) it cannot
close the code.
"""

from __future__ import annotations

import re

from reconciler import model
from reconciler.model import Action, Change, Plan
from reconciler.planning import describe, planner
from reconciler.planning.view import move_line, moved_pairs, summary_line

MAX_ROWS = 200  # changes in the table
MAX_DIFFS = 30  # script diffs shown
DIFF_LINES = 40  # lines of one script diff
DIFF_PER_SIDE = 20  # removed (or added) lines of one changed block

_ORDER = {Action.REPLACE: 0, Action.DELETE: 1, Action.UPDATE: 2, Action.CREATE: 3}
_SIGN = {Action.CREATE: "+", Action.REPLACE: "-/+", Action.UPDATE: "~", Action.DELETE: "-"}


def plan_markdown(plan: Plan, cost=None) -> str:
    """The whole comment, ending with a newline. ``cost`` (``planning.budget.Cost``)
    adds the budget and the estimate in money when they are configured."""
    moves = moved_pairs(plan)  # a rename: one row, its create's (docs/cache.md)
    shown = sorted((c for c in plan.changes if c.action is not Action.NOOP and c.address not in moves),
                   key=lambda c: (_ORDER[c.action], c.address))
    out = ["### reconciler plan", "", f"**{summary_line(plan)}**", ""]
    out += _estimate(plan, cost)
    if not shown:
        out += ["No changes. Nothing will be rendered.", ""]
    else:
        out += _table(shown, moves)
    noops = plan.count(Action.NOOP)
    if noops:
        out += [f"{noops} unchanged video{'s' if noops != 1 else ''} not listed.", ""]
    unknown = [c for c in plan.changes if planner.outcome_unknown(c)]
    if unknown:
        out += [f"⚠️ {len(unknown)} create{'s' if len(unknown) != 1 else ''} with an unknown outcome "
                "(not sent again unless a person asks): "
                + ", ".join(f"`{_code(c.address)}`" for c in unknown[:20])
                + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""), ""]
    out += _held(plan)
    out += _diffs(shown)
    return "\n".join(out).rstrip("\n") + "\n"


def _held(plan: Plan) -> list[str]:
    """The changes held back for another vendor account (docs/team.md), with whose they are."""
    held = [c for c in plan.changes if c.held_for is not None]
    if not held:
        return []
    return [f"⚠️ {len(held)} video{'s' if len(held) != 1 else ''} owned by another account, not changed by this "
            "checkout: " + ", ".join(f"`{_code(c.address)}` ({model.account_text(c.provider, c.held_for)})"
                                     for c in held[:20])
            + (f" and {len(held) - 20} more" if len(held) > 20 else ""), ""]


def _estimate(plan: Plan, cost) -> list[str]:
    b = cost.budget if cost is not None else None
    if b is None:
        rows = ["| estimate | this plan |", "|---|---:|",
                f"| renders | {plan.renders:,} |", f"| TTS characters | {plan.tts_chars:,} |"]
    else:
        rows = ["| estimate | this plan | budget |", "|---|---:|---:|",
                f"| renders | {plan.renders:,} | {_limit(b.max_renders)} |",
                f"| TTS characters | {plan.tts_chars:,} | {_limit(b.max_tts_chars)} |"]
    if cost is not None and cost.money:
        rows.append(f"| price | {cost.money_text} |" + (" |" if b is not None else ""))
    rows.append("")
    if b is not None:
        from reconciler.planning import budget

        over = budget.over_budget(plan, b)
        if over:  # shown only under --allow-over-budget: otherwise the plan is refused
            rows += [f"⚠️ **Over budget** (allowed with `--allow-over-budget`): {'; '.join(over)}.", ""]
    return rows


def _limit(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _table(changes: list[Change], moves: dict[str, Change]) -> list[str]:
    rows = ["| | video | provider | why | spec file |", "|---|---|---|---|---|"]
    for c in changes[:MAX_ROWS]:
        if c.moved_from in moves:
            rows.append(f"| `→` move | `{_code(c.moved_from)}` → `{_code(c.address)}` | {_cell(c.provider)} "
                        f"| {_cell(move_line(c))} | {_cell(c.file or '')} |")
            continue
        rows.append(f"| `{_SIGN[c.action]}` {c.action.value} | `{_code(c.address)}` | {_cell(c.provider)} "
                    f"| {_cell(c.reason)} | {_cell(c.file or '')} |")
    if len(changes) > MAX_ROWS:
        rows.append(f"| | … and {len(changes) - MAX_ROWS} more changes (see `reconciler plan`) | | | |")
    return rows + [""]


def _diffs(changes: list[Change]) -> list[str]:
    blocks: list[list[str]] = []
    left = 0
    for c in changes:
        if c.action is not Action.REPLACE or c.desired is None or c.recorded is None:
            continue
        old, new = describe.script_of(c.recorded.request), describe.script_of(c.desired.request)
        if old is None or new is None or old == new:
            continue
        if len(blocks) == MAX_DIFFS:
            left += 1
            continue
        lines = describe.script_diff(old, new, max_lines=DIFF_LINES, max_per_side=DIFF_PER_SIDE)
        body = "\n".join(lines).replace("```", "`\u200b``")  # a script never closes the fence
        blocks.append(["<details>", f"<summary>script diff: <code>{_html(c.address)}</code></summary>", "",
                       "```diff", body, "```", "", "</details>", ""])
    out = [line for block in blocks for line in block]
    if left:
        out += [f"{left} more script diff{'s' if left != 1 else ''} not shown (see `reconciler plan`).", ""]
    return out


def _cell(text: str) -> str:
    """Text safe in a table cell: no pipe ends the cell, no newline ends the row."""
    return _prose(text).replace("|", "\\|").replace("\n", " ")


_MARKUP = re.compile(r"([\\`\[\]])")  # a backslash, a code span, a link or an image
_AUTOLINKED = re.compile(r"@|#|:(?=//)|(?i:\bwww)(?=\.)|(?i:\bgh)(?=-\d)")  # mention, issue, URL, www., GH-1
_ZWSP = "&#8203;"  # a zero-width space: the text reads the same, GitHub links none of it


def _prose(text: str) -> str:
    """User text outside code, as itself: HTML and Markdown link/code characters escaped,
    and a zero-width space after each ``@``, ``#``, URL scheme ``:``, ``www`` and ``GH``,
    so GitHub makes no mention, issue reference or autolink of it (the way bots quoting
    release notes do)."""
    text = _MARKUP.sub(r"\\\1", _html(text))
    return _AUTOLINKED.sub(lambda m: m.group(0) + _ZWSP, text)


def _code(text: str) -> str:
    return text.replace("`", "'").replace("|", "\\|")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
