"""Mechanisms with no domain knowledge: YAML with marks, atomic files, backoff, clock,
asyncio helpers, the --debug log, pausing the garbage collector. One of each: use these
before writing another."""
