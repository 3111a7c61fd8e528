"""`reconciler schema`: print the JSON Schema of a spec file (for editors and CI).

The schema comes from the same description that validates specs
(``specs/json_schema.py``), so it cannot drift from what ``validate`` accepts.
"""

from __future__ import annotations

import json


def run(project) -> int:
    from reconciler.specs import json_schema

    print(json.dumps(json_schema.spec_file_schema(), indent=2, ensure_ascii=False))
    return 0
