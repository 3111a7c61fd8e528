"""Mechanisms with no domain knowledge: YAML with marks, atomic files, input files read
without blocking, backoff, clock, asyncio helpers, the --debug log, pausing the garbage
collector. One of each: use these before writing another."""
