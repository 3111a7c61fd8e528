"""Printing spec warnings (``reconciler.specs.vendor_lists``) for validate, plan and apply.

One line each on stderr, ``warning: file:line: where: message``, so ``plan --json``'s
stdout stays one JSON document and a warning never changes an exit code.
"""

from __future__ import annotations

import sys


def report(config, load) -> None:
    from reconciler.specs import vendor_lists

    for warning in vendor_lists.check(config, load):
        print(f"warning: {warning}", file=sys.stderr)
