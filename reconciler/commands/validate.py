"""`reconciler validate`: load and check every spec, no network, no state touched.

Prints ``N videos OK``; any problem raises SpecErrors, which the CLI prints (every
problem of every file, sorted, each as ``file:line: where: message``) with exit 1.
"""

from __future__ import annotations

import sys

from reconciler.state import store as state_store


def run(project, variables: dict[str, str]) -> int:
    from reconciler.commands import specwarn
    from reconciler.specs import loader

    config = project.config()
    state_store.backend(config)  # a `state` setting this version cannot serve is a config error here too
    load = loader.load_specs(config, variables)
    desired = load.desired()
    specwarn.report(config, load)
    print(f"{len(desired)} videos OK")
    if not config.specs_dir.is_dir():
        print(f"Note: the specs folder {config.file.specs}/ does not exist (see `specs:` in reconciler.yaml).",
              file=sys.stderr)
    return 0
