"""`reconciler schema`: the JSON Schema an editor or CI checks spec files with says what
`validate` accepts: the same required fields, defaults, limits and unknown-field rule,
entries that may leave any field to `defaults`, and the whole video after the merge."""

from __future__ import annotations

from reconciler.specs import json_schema, schema

SPEC = json_schema.spec_file_schema()
DEFS = SPEC["$defs"]


def test_a_spec_file_has_defaults_and_videos_by_address_and_nothing_else():
    assert SPEC["$schema"] == json_schema.DIALECT
    assert set(SPEC["properties"]) == {"defaults", "videos"} and SPEC["additionalProperties"] is False
    by_address = SPEC["properties"]["videos"]["anyOf"][0]
    assert by_address["propertyNames"]["pattern"] == json_schema.ADDRESS_PATTERN
    assert SPEC["properties"]["defaults"]["description"] == "Merged under every video of this file."


def test_the_merged_video_is_one_of_the_providers_by_its_provider_field():
    merged = DEFS["MergedVideo"]
    assert merged["discriminator"] == {"propertyName": "provider", "mapping": {
        "xingyun": "#/$defs/XingyunVideo", "unisound": "#/$defs/UnisoundVideo"}}
    for provider, name in (("xingyun", "XingyunVideo"), ("unisound", "UnisoundVideo")):
        video = DEFS[name]
        assert set(video["required"]) == schema.required_fields(provider)
        assert video["additionalProperties"] is False
        assert video["properties"]["provider"]["const"] == provider
        assert video["description"]  # the record's description reaches the editor
        assert video["properties"]["labels"]["description"] == "Metadata only; never triggers a render."


def test_limits_defaults_and_what_sub_title_accepts_are_those_validate_applies():
    xingyun, speech = DEFS["XingyunVideo"]["properties"], DEFS["SpeechParam"]["properties"]
    assert xingyun["sub_title"]["anyOf"] == [{"enum": ["on", "off"]}, {"type": "boolean"}]
    assert (xingyun["sub_title"]["default"], xingyun["if_aigc_mark"]["default"]) == ("on", True)
    assert xingyun["segment"]["anyOf"][0]["minItems"] == 1
    assert (speech["bright"]["minimum"], speech["bright"]["maximum"], speech["bright"]["default"]) == (50, 100, 50)
    assert DEFS["UnisoundVideo"]["properties"]["text"]["maxLength"] == schema.MAX_TEXT
    assert "background" in DEFS["VideoParam"]["required"]
    assert DEFS["Segment"]["additionalProperties"] is False


def test_an_entry_may_leave_every_field_to_defaults_but_no_unknown_one():
    for name in ("XingyunVideoEntry", "UnisoundVideoEntry"):
        entry = DEFS[name]
        assert "required" not in entry and entry["additionalProperties"] is False
        assert all(field["default"] is None for field in entry["properties"].values())
    assert set(DEFS["XingyunVideoEntry"]["properties"]) == set(DEFS["XingyunVideo"]["properties"])
