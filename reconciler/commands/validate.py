"""`reconciler validate`: load and check every spec, no network, no state touched.

Prints ``N videos OK``; any problem raises SpecErrors, which the CLI prints (every
problem of every file, sorted, each as ``file:line: where: message``) with exit 1.
"""

from __future__ import annotations


def run(project, variables: dict[str, str]) -> int:
    from reconciler import specs

    desired = specs.load_specs(project.config(), variables).desired()
    print(f"{len(desired)} videos OK")
    return 0
