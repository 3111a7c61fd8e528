"""No import cycle between two modules of reconciler, function-local imports included.

A cycle makes the order of imports matter and a module impossible to read alone: a lazy
import (kept for start-up speed) must go through a module that does not import back.
grimp (which import-linter is built on) sees every import of a module, at the top or
inside a function, and under ``TYPE_CHECKING`` too.

The second test proves the check is live: an import planted into the graph is named.
"""

from __future__ import annotations

import grimp


def cycles(graph) -> list[list[str]]:
    """One shortest cycle through each import that closes one, as a chain of modules."""
    found, seen = [], set()
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is None:
                continue
            chain = [importer, *back]
            key = frozenset(chain)
            if key not in seen:
                seen.add(key)
                found.append(chain)
    return found


def test_no_import_cycles():
    found = cycles(grimp.build_graph("reconciler", cache_dir=None))
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_a_planted_cycle_is_named():
    graph = grimp.build_graph("reconciler", cache_dir=None)
    graph.add_import(importer="reconciler.util.clock", imported="reconciler.state.store", line_number=1,
                     line_contents="from reconciler.state import store")
    found = cycles(graph)
    assert any({"reconciler.util.clock", "reconciler.state.store"} <= set(c) and c[0] == c[-1] for c in found), found
