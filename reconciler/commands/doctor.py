"""`reconciler doctor [--json]`: check the setup before the first paid render.

Runs ``reconciler.doctor.checks.run_checks`` and renders the result: one line per check
(``ok``/``warning``/``error``, name, what was found) with the next step indented below
it, or with ``--json`` a list of ``{"name", "status", "detail", "fix"}`` on stdout.
Exit 0 when no check is an error, 1 otherwise. Nothing is written to the state.
"""

from __future__ import annotations

import json
import sys

from reconciler.doctor.checks import run_checks
from reconciler.doctor.result import ERROR, WARNING


def run(project, as_json: bool) -> int:
    checks = run_checks(project.root)
    if as_json:
        sys.stdout.write(json.dumps([c.as_json() for c in checks], ensure_ascii=False, indent=2) + "\n")
    else:
        width = max(len(c.name) for c in checks)
        pad = " " * (width + 10)
        for c in checks:
            print(f"{c.status:<7} {c.name:<{width}}  {c.detail}")
            for i, line in enumerate(c.fix.splitlines() if c.status != "ok" else ()):
                print(f"{pad}{'-> ' if i == 0 else '   '}{line}")
        errors = sum(c.status == ERROR for c in checks)
        warnings = sum(c.status == WARNING for c in checks)
        print(f"\n{len(checks)} checks: {len(checks) - errors - warnings} ok, {warnings} warning(s), {errors} error(s).")
    return 1 if any(c.status == ERROR for c in checks) else 0
