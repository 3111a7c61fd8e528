"""`reconciler schema`: print the JSON Schema of a spec file (for editors and CI).

The schema comes from the same pydantic models that validate specs, so it cannot
drift from what ``validate`` accepts.
"""

from __future__ import annotations

import json


def run(project) -> int:
    from reconciler.specs import schema

    print(json.dumps(schema.spec_file_schema(), indent=2, ensure_ascii=False))
    return 0
