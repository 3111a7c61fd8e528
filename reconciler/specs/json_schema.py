"""The JSON Schema of a spec file (``reconciler schema``), for editors and CI.

It is generated from the one description of a video (``specs/schema.py``) by pydantic's
JSON Schema generator, so it cannot drift from what ``validate`` accepts. pydantic is
imported here only: no other command pays for it. A spec file's entries are partial
(any field may be left to ``defaults``); the merged video must be whole, and is in the
schema as ``#/$defs/MergedVideo``.
"""

from __future__ import annotations

from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema as cs

from reconciler.specs import schema

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# An address (``schema.ADDRESS_RULE``) as a JSON Schema pattern.
ADDRESS_PATTERN = r"^(?!/)(?!.*(^|/)(\.|/|$))[A-Za-z0-9_.\-/]{1,200}$"


class _FromDescription(GenerateJsonSchema):
    """pydantic's generator, plus what the description keeps in ``metadata``: a record's
    title and description, a field's description, a type's own JSON Schema."""

    def typed_dict_schema(self, core: cs.TypedDictSchema) -> dict:
        json_schema = super().typed_dict_schema(core)
        meta = core.get("metadata") or {}
        json_schema.update({key: meta[key] for key in ("title", "description") if meta.get(key)})
        return json_schema

    def typed_dict_field_schema(self, core: cs.TypedDictField) -> dict:
        json_schema = super().typed_dict_field_schema(core)
        description = (core.get("metadata") or {}).get("description")
        return {**json_schema, "description": description} if description else json_schema

    def function_before_schema(self, core: cs.BeforeValidatorFunctionSchema) -> dict:
        return (core.get("metadata") or {}).get("json_schema") or super().function_before_schema(core)


def _optional(field: cs.TypedDictField) -> cs.TypedDictField:
    """The same field, optional and nullable with no default of its own: an entry may
    leave it to ``defaults``."""
    inner = field["schema"]
    if inner["type"] == "default":
        inner = inner["schema"]
    if inner["type"] == "nullable":
        inner = inner["schema"]
    return schema.field(inner, None, description=(field.get("metadata") or {}).get("description"))


def _entry(record: cs.TypedDictSchema) -> cs.TypedDictSchema:
    """What one entry of ``defaults`` or ``videos`` may hold, before defaults merge in."""
    return schema.record(f"{record['metadata']['title']}Entry", None,
                         {key: _optional(f) for key, f in record["fields"].items()})


def spec_file_schema() -> dict:
    """JSON Schema of one spec file (entries are partial; merged videos must be whole)."""
    entry = cs.union_schema([_entry(record) for record in schema.RECORDS.values()])
    spec_file = schema.record("SpecFile", None, {
        "defaults": schema.field(entry, None, description="Merged under every video of this file."),
        "videos": schema.field(cs.dict_schema(cs.str_schema(), entry), None, description="Videos by address."),
    })
    out = _FromDescription(ref_template="#/$defs/{model}").generate(spec_file)
    out["properties"]["videos"]["anyOf"][0]["propertyNames"] = {"pattern": ADDRESS_PATTERN}
    merged = _FromDescription(ref_template="#/$defs/{model}").generate(schema.any_video_schema())
    out.setdefault("$defs", {}).update(merged.pop("$defs", {}))
    out["$defs"]["MergedVideo"] = merged
    out["$schema"] = DIALECT
    out["description"] = ("A reconciler spec file. Each entry of `videos`, after `defaults` are "
                          "merged under it, must be a whole #/$defs/MergedVideo.")
    return out
