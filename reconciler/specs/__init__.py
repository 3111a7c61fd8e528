"""From spec files to desired videos: Jinja, YAML, schema validation, fingerprints, cache."""
