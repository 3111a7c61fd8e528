"""Mechanisms with no domain knowledge: YAML with marks, atomic files, backoff, clock."""
